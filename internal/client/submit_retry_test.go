package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"pkgstore/internal/api"
	"strings"
	"sync"
	"testing"
	"time"
)

// flakyRegistry answers the first refusals uploads with status (and
// Retry-After retryAfter when set), then accepts, recording every body's
// package part.
type flakyRegistry struct {
	status     int
	retryAfter string
	refusals   int

	mu     sync.Mutex
	bodies []string
	times  []time.Time
}

func (f *flakyRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "unexpected", http.StatusTeapot)
		return
	}
	file, _, err := r.FormFile("package")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(file)
	f.mu.Lock()
	f.bodies = append(f.bodies, string(body))
	f.times = append(f.times, time.Now())
	n := len(f.bodies)
	f.mu.Unlock()
	if n <= f.refusals {
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		w.WriteHeader(f.status)
		json.NewEncoder(w).Encode(map[string]string{"error": "not now"})
		return
	}
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(api.Submission{ID: "0000000000000000001-aaaaaaaaaaaa", Status: api.StatusPublished})
}

func TestSubmitRetries(t *testing.T) {
	const zip = "PK-the-zip-bytes"
	cases := []struct {
		name       string
		status     int
		retryAfter string
		refusals   int
		uploads    int // expected
		ok         bool
		minGap     time.Duration // between the first two uploads
	}{
		{"429 with Retry-After seconds", http.StatusTooManyRequests, "1", 2, 3, true, 900 * time.Millisecond},
		{"503 with Retry-After date", http.StatusServiceUnavailable, "DATE", 1, 2, true, 0},
		{"503 without Retry-After", http.StatusServiceUnavailable, "", 2, 3, true, 5 * time.Millisecond},
		{"429 for ever", http.StatusTooManyRequests, "0", 100, 4, false, 0},
		{"400 is not retried", http.StatusBadRequest, "1", 100, 1, false, 0},
		{"401 is not retried", http.StatusUnauthorized, "1", 100, 1, false, 0},
		{"403 is not retried", http.StatusForbidden, "1", 100, 1, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg := &flakyRegistry{status: tc.status, retryAfter: tc.retryAfter, refusals: tc.refusals}
			if tc.retryAfter == "DATE" {
				reg.retryAfter = time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)
			}
			srv := httptest.NewServer(reg)
			defer srv.Close()
			c, err := New(srv.URL, "tok")
			if err != nil {
				t.Fatal(err)
			}
			c.SubmitRetry = Retry{Attempts: 4, Backoff: 10 * time.Millisecond}
			s, err := c.Submit(context.Background(), "a-1.0.0.zip", strings.NewReader(zip), []byte("sig"), Options{Legacy: true})
			if tc.ok && (err != nil || s.Status != api.StatusPublished) {
				t.Fatalf("Submit = %+v, %v; want published", s, err)
			}
			var ae *APIError
			if !tc.ok && (!errors.As(err, &ae) || ae.StatusCode != tc.status) {
				t.Fatalf("Submit error = %v; want the %d answer", err, tc.status)
			}
			if len(reg.bodies) != tc.uploads {
				t.Fatalf("%d uploads, want %d", len(reg.bodies), tc.uploads)
			}
			for i, b := range reg.bodies {
				if b != zip {
					t.Errorf("upload %d sent %q, want the whole zip %q", i+1, b, zip)
				}
			}
			if len(reg.times) > 1 {
				if gap := reg.times[1].Sub(reg.times[0]); gap < tc.minGap {
					t.Errorf("second upload %v after the first, want at least %v", gap, tc.minGap)
				}
			}
		})
	}
}

func TestSubmitNeverWaitsPastDeadline(t *testing.T) {
	reg := &flakyRegistry{status: http.StatusTooManyRequests, retryAfter: "30", refusals: 100}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	c, _ := New(srv.URL, "tok")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.Submit(ctx, "a-1.0.0.zip", bytes.NewReader([]byte("zip")), nil, Options{})
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusTooManyRequests || ae.RetryAfter != 30*time.Second {
		t.Fatalf("err = %v; want the 429 with its Retry-After", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("returned after %v; a wait past the deadline should not be started", took)
	}
	if len(reg.bodies) != 1 {
		t.Errorf("%d uploads, want 1", len(reg.bodies))
	}
}

func TestSubmitUnseekableBodyIsNotRetried(t *testing.T) {
	reg := &flakyRegistry{status: http.StatusServiceUnavailable, refusals: 100}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	c, _ := New(srv.URL, "tok")
	c.SubmitRetry = Retry{Attempts: 4, Backoff: time.Millisecond}
	_, err := c.Submit(context.Background(), "a-1.0.0.zip", io.LimitReader(strings.NewReader("zip"), 3), nil, Options{})
	if err == nil || len(reg.bodies) != 1 {
		t.Fatalf("err = %v after %d uploads; want the 503 after 1", err, len(reg.bodies))
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"5":                             5 * time.Second,
		" 7 ":                           7 * time.Second,
		"0":                             0,
		"-3":                            0,
		"soon":                          0,
		"Tue, 01 Dec 2026 10:00:30 GMT": 30 * time.Second,
		"Tue, 01 Dec 2026 09:59:00 GMT": 0,
	}
	for v, want := range cases {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}
