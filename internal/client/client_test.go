package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"pkgstore/internal/api"
	"sync/atomic"
	"testing"
	"time"
)

// TestWaitRidesOutServerErrors serves a status endpoint that fails a few
// times with 5xx before the outcome: Wait must retry up to its bound and no
// further, and never retry a client error.
func TestWaitRidesOutServerErrors(t *testing.T) {
	defer func(p time.Duration) { waitRetryPause = p }(waitRetryPause)
	waitRetryPause = time.Millisecond
	tests := []struct {
		name     string
		failures int
		code     int
		wantErr  int // 0: the outcome is returned
	}{
		{"no failure", 0, 0, 0},
		{"two 500s", 2, http.StatusInternalServerError, 0},
		{"bound of 503s", waitRetries, http.StatusServiceUnavailable, 0},
		{"one more than the bound", waitRetries + 1, http.StatusInternalServerError, http.StatusInternalServerError},
		{"client error not retried", 1, http.StatusNotFound, http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if int(calls.Add(1)) <= tc.failures {
					w.WriteHeader(tc.code)
					json.NewEncoder(w).Encode(map[string]string{"error": "read submission: bucket hiccup"})
					return
				}
				json.NewEncoder(w).Encode(api.Submission{ID: "s1", Status: api.StatusPublished})
			}))
			defer srv.Close()
			c, err := New(srv.URL, "token")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := c.Wait(ctx, "s1")
			if tc.wantErr == 0 {
				if err != nil || s.Status != api.StatusPublished {
					t.Fatalf("Wait = %v, %v; want published", s, err)
				}
				return
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.StatusCode != tc.wantErr {
				t.Fatalf("Wait error = %v, want API error %d", err, tc.wantErr)
			}
			if tc.code == http.StatusNotFound && calls.Load() != 1 {
				t.Errorf("%d calls, want 1 (no retry on a client error)", calls.Load())
			}
		})
	}
}
