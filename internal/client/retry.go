package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Retry is how often and how patiently an operation is retried when it
// fails transiently (see Transient).
type Retry struct {
	Attempts int           // calls in all, at least 1
	Backoff  time.Duration // wait before the second call, doubled after each
}

// DefaultRetry is what publishers and mirrors use unless told otherwise.
var DefaultRetry = Retry{Attempts: 3, Backoff: 500 * time.Millisecond}

// Do calls f until it succeeds, fails for good, attempts run out or ctx is
// done, and returns f's last error.
func (r Retry) Do(ctx context.Context, f func() error) error {
	wait := r.Backoff
	for i := 1; ; i++ {
		err := f()
		if err == nil || i >= r.Attempts || !Transient(err) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// StatusError is a non-2xx answer to a GET or HEAD.
type StatusError struct {
	Method     string // GET when empty
	URL        string
	StatusCode int
	Status     string
}

func (e *StatusError) Error() string {
	m := e.Method
	if m == "" {
		m = http.MethodGet
	}
	return fmt.Sprintf("%s %s: answered %s", m, e.URL, e.Status)
}

// Transient reports whether err may go away on its own: a transport failure
// (Unreachable), a timeout of one attempt, or an answer of 408, 429 or 5xx.
// Callers stop retrying once their own context is done (Retry.Do checks).
func Transient(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		// One attempt's timeout; the caller's own deadline is checked by Do.
		return true
	}
	code := 0
	var apiErr *APIError
	var stErr *StatusError
	switch {
	case errors.As(err, &apiErr):
		code = apiErr.StatusCode
	case errors.As(err, &stErr):
		code = stErr.StatusCode
	case errors.Is(err, ErrUnexpected):
		// A HEAD answered something other than 200/404 (e.g. 503).
		return true
	default:
		return Unreachable(err)
	}
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// Unreachable reports a transport failure: no (complete) HTTP answer at all.
// When it outlasts the retries, every other request would fail the same
// way.
func Unreachable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	// syscall.Errno has Timeout and Temporary too: ENOENT of a local file
	// is no registry out of reach (the errnos that are follow).
	var netErr net.Error
	if errors.As(err, &netErr) {
		if _, errno := netErr.(syscall.Errno); !errno {
			return true
		}
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.ETIMEDOUT) || errors.Is(err, syscall.EPIPE)
}
