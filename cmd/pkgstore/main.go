// Command pkgstore runs Package Storage v2: the registry server with its
// publishing job and indexer, and the tools package owners and operators use.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"pkgstore/internal/server/buildinfo"
)

// exitError carries a process exit code out of a command.
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
	return &exitError{Code: 2, Err: fmt.Errorf(format, args...)}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "pkgstore",
		Short:         "Package Storage v2: publish, index and serve Elastic integration packages",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{Code: 2, Err: err}
	})
	for _, add := range subcommands {
		root.AddCommand(add())
	}
	root.Version = buildinfo.Read().String()
	root.SetVersionTemplate("{{.Version}}")
	return root
}

// subcommands is filled by each command's file in its init function, so that
// commands can be added without editing this file.
var subcommands []func() *cobra.Command

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	root := newRootCmd()
	if filepath.Base(os.Args[0]) == eprName {
		// Started as EPR (a link, or the image's entrypoint), unless the
		// first argument asks for pkgstore's own commands (`package-registry
		// pkgstore job index`): EPR takes no arguments, only flags.
		if len(os.Args) > 1 && os.Args[1] == "pkgstore" {
			root.SetArgs(os.Args[2:])
		} else {
			root.SetArgs(append([]string{eprName}, os.Args[1:]...))
		}
	}
	err := root.ExecuteContext(ctx)
	stop()
	if err == nil {
		return
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(os.Stderr, "pkgstore:", ee.Err)
		}
		os.Exit(ee.Code)
	}
	fmt.Fprintln(os.Stderr, "pkgstore:", err)
	// Cobra's own argument errors are usage errors.
	os.Exit(2)
}
