package main

import (
	"errors"
	"fmt"

	"pkgstore/internal/client/exitcode"
)

// exitError carries a process exit code (exitcode's table) out of a command.
type exitError struct {
	Code int
	Err  error
}

func (e *exitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *exitError) Unwrap() error { return e.Err }

// usageError marks a command-line mistake (exit code 2).
func usageError(format string, args ...any) error {
	return &exitError{Code: exitcode.Usage, Err: fmt.Errorf(format, args...)}
}

// fail returns err with the exit code exitcode.Of classifies it into:
// 4 for a 401/403, 5 for an unreachable registry or bucket, else 1.
func fail(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return &exitError{Code: exitcode.Of(err), Err: err}
}

// unreachable marks a registry or bucket that could not be reached or
// opened (exit code 5).
func unreachable(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{Code: exitcode.Unreachable, Err: err}
}

// exitCodeOf is the process exit code of a command's error: its
// exitError's, else 2 (cobra's own errors are argument mistakes).
func exitCodeOf(err error) int {
	if err == nil {
		return exitcode.OK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return exitcode.Usage
}
