package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"pkgstore/internal/client"
)

// refusedErr and timeoutErr make transport errors as they really happen, on
// loopback.
func refusedErr(t *testing.T) error {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = http.Get("http://" + addr + "/")
	if err == nil {
		t.Fatal("a closed port answered")
	}
	return err
}

func timeoutErr(t *testing.T) error {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	_, err := http.DefaultClient.Do(req)
	if err == nil {
		t.Fatal("no timeout")
	}
	return err
}

func TestTransient(t *testing.T) {
	cases := []struct {
		name                   string
		err                    error
		transient, unreachable bool
	}{
		{"connection refused", refusedErr(t), true, true},
		{"attempt timeout", timeoutErr(t), true, false},
		{"cut short", fmt.Errorf("download: %w", io.ErrUnexpectedEOF), true, true},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), false, false},
		{"503", &client.StatusError{StatusCode: 503}, true, false},
		{"500 from the API", &client.APIError{StatusCode: 500}, true, false},
		{"429", &client.StatusError{StatusCode: 429}, true, false},
		{"408", &client.APIError{StatusCode: 408}, true, false},
		{"404", &client.StatusError{StatusCode: 404}, false, false},
		{"403", &client.APIError{StatusCode: 403}, false, false},
		{"odd HEAD answer", fmt.Errorf("check: %w", client.ErrUnexpected), true, false},
		{"other", errors.New("signature does not match"), false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := client.Transient(c.err); got != c.transient {
				t.Errorf("Transient(%v) = %v, want %v", c.err, got, c.transient)
			}
			if got := client.Unreachable(c.err); got != c.unreachable {
				t.Errorf("Unreachable(%v) = %v, want %v", c.err, got, c.unreachable)
			}
		})
	}
}

func TestRetryDo(t *testing.T) {
	r := client.Retry{Attempts: 3, Backoff: time.Millisecond}
	cases := []struct {
		name  string
		errs  []error // answers of successive calls; nil is success
		calls int
		ok    bool
	}{
		{"first try", []error{nil}, 1, true},
		{"after two 503s", []error{&client.StatusError{StatusCode: 503}, &client.StatusError{StatusCode: 503}, nil}, 3, true},
		{"503s outlast the attempts", []error{&client.StatusError{StatusCode: 503}, &client.StatusError{StatusCode: 503}, &client.StatusError{StatusCode: 503}, nil}, 3, false},
		{"a 404 is final", []error{&client.StatusError{StatusCode: 404}, nil}, 1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			err := r.Do(context.Background(), func() error {
				calls++
				return c.errs[calls-1]
			})
			if calls != c.calls || (err == nil) != c.ok {
				t.Errorf("%d calls, err %v; want %d calls, ok %v", calls, err, c.calls, c.ok)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	_ = r.Do(ctx, func() error { calls++; return &client.StatusError{StatusCode: 503} })
	if calls != 1 {
		t.Errorf("a cancelled context still retried: %d calls", calls)
	}
}
