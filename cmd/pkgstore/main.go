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
	if errors.As(err, &ee) && ee.Err == nil {
		os.Exit(ee.Code) // the command has said why on its own
	}
	fmt.Fprintln(os.Stderr, "pkgstore:", err)
	os.Exit(exitCodeOf(err))
}
