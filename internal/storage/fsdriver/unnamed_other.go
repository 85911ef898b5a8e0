//go:build !linux

package fsdriver

import (
	"errors"
	"os"
)

// Unnamed files are Linux's (O_TMPFILE); elsewhere staged objects are
// named temporary files.

func openUnnamed(string) (*os.File, error) { return nil, errors.ErrUnsupported }

func linkUnnamed(*os.File, string) error { return errors.ErrUnsupported }

func unnamedWorks(string) bool { return false }
