package ecs

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"
)

// ErrUnreachable is returned (wrapped) when the ECS schema server cannot
// be reached at all: its name does not resolve, it refuses the connection,
// the network is down or it does not answer. The message says so in words
// and hints the air-gapped setup (--ecs-base-url file://…).
var ErrUnreachable = errors.New("ECS schema server unreachable")

// unreachableError is ErrUnreachable with what happened, in words.
type unreachableError struct {
	ref, src, what string
	cause          error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("cannot download ECS schema %s: %s. "+
		"Without network access, build with --ecs-base-url file:///path/to/mirror (a folder holding %s/%s; "+
		"also $%s or $%s), or with --ecs-base-url set to a server that is reachable; "+
		"a schema cached by an earlier build is used without network (tried %s; %v)",
		e.ref, e.what, e.ref, SchemaPath, BaseURLEnv, ElasticPackageBaseURLEnv, e.src, e.cause)
}

func (e *unreachableError) Is(target error) bool { return target == ErrUnreachable }

func (e *unreachableError) Unwrap() error { return e.cause }

// asUnreachable returns err, the failure of a request to src, as an
// unreachableError when it is a failure to reach the server, else nil.
func asUnreachable(err error, src, ref string) error {
	host := src
	if u, perr := url.Parse(src); perr == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	var cause error = err
	var ue *url.Error
	if errors.As(err, &ue) {
		cause = ue.Err // without "Get \"URL\": "
	}
	var dns *net.DNSError
	var nerr net.Error
	var op *net.OpError
	var what string
	switch {
	case errors.As(err, &dns):
		what = host + " does not resolve (no network or no name server here?)"
	case errors.Is(err, syscall.ECONNREFUSED):
		what = host + " refused the connection"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		what = "the network to " + host + " is unreachable"
	case errors.As(err, &nerr) && nerr.Timeout():
		what = host + " did not answer in time"
	case errors.As(err, &op):
		what = host + " cannot be reached"
	default:
		return nil
	}
	return &unreachableError{ref: ref, src: src, what: what, cause: cause}
}
