// Package exitcode is the one table of pkgstore's exit codes, and the
// classification of the errors a command meets into them, so that a
// script can tell a bad token from a dead registry by the code alone.
//
//	0  success
//	1  refused, or a check failed (the package, the bundle, a signature)
//	2  usage: a flag, an argument or a file named on the command line is wrong
//	3  already published (publish)
//	4  authentication or authorisation refused (401, 403)
//	5  registry or bucket unreachable: no connection, 5xx or 429 after the
//	   retries, no answer in time, a bucket that cannot be opened
//
// When several outcomes are reported (publish A.zip B.zip), the command
// exits with the worst one, in the order Worst defines.
package exitcode

import (
	"context"
	"errors"
	"net/http"

	"pkgstore/internal/client"
	"pkgstore/internal/storage"
)

// The exit codes of every pkgstore command but package-registry (EPR's own).
const (
	OK               = 0
	Refused          = 1
	Usage            = 2
	AlreadyPublished = 3
	Auth             = 4
	Unreachable      = 5
)

// ErrUnreachable marks a registry or bucket that could not be reached or
// opened, for errors that carry no HTTP status or net.Error of their own.
var ErrUnreachable = errors.New("unreachable")

// ErrAuth marks an authentication or authorisation refusal that carries no
// HTTP status of its own.
var ErrAuth = errors.New("authentication refused")

// Unreach wraps err so that Of classifies it as Unreachable; nil stays nil.
func Unreach(err error) error {
	if err == nil {
		return nil
	}
	return &marked{err: err, mark: ErrUnreachable}
}

type marked struct{ err, mark error }

func (m *marked) Error() string   { return m.err.Error() }
func (m *marked) Unwrap() []error { return []error{m.err, m.mark} }

// Of classifies err: nil is OK, an HTTP status or a transport failure
// says Auth or Unreachable, anything else is Refused. Usage errors and
// "already published" are decided by the command, which knows them.
func Of(err error) int {
	if err == nil {
		return OK
	}
	if code, ok := status(err); ok {
		switch {
		case code == http.StatusUnauthorized || code == http.StatusForbidden:
			return Auth
		case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
			return Unreachable
		}
		return Refused
	}
	switch {
	case errors.Is(err, ErrAuth):
		return Auth
	case errors.Is(err, ErrUnreachable), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, storage.ErrOpen), errors.Is(err, client.ErrUnexpected), client.Unreachable(err):
		return Unreachable
	}
	return Refused
}

// status is the HTTP status an error of the client wing carries.
func status(err error) (int, bool) {
	var ae *client.APIError
	if errors.As(err, &ae) {
		return ae.StatusCode, true
	}
	var se *client.StatusError
	if errors.As(err, &se) {
		return se.StatusCode, true
	}
	return 0, false
}

// severity orders the codes for Worst: a dead registry or a bad token
// says more about the whole run than one refused package, which says
// more than a duplicate.
var severity = map[int]int{OK: 0, AlreadyPublished: 1, Refused: 2, Usage: 3, Auth: 4, Unreachable: 5}

// Worst is the code a command with several outcomes exits with:
// Unreachable > Auth > Usage > Refused > AlreadyPublished > OK.
func Worst(codes ...int) int {
	w := OK
	for _, c := range codes {
		if severity[c] > severity[w] {
			w = c
		}
	}
	return w
}
