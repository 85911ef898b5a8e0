// Command pkgstore runs Package Storage v2: the registry server with its
// publishing job and indexer, and the tools package owners and operators use.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"pkgstore/internal/client/exitcode"
	"pkgstore/internal/server/buildinfo"
	"pkgstore/internal/server/imagepages"
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
	// Every linked package's initialiser has run, the three cloud SDKs'
	// among them: give back the pages of the executable only they touched
	// (about 20 MB of a serve's peak; docs/benchmarks.md). Best effort: a
	// process that cannot only keeps more memory resident.
	_, _ = imagepages.Release()
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
	code := run(ctx, root, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes root and returns the process exit code. Errors go to stderr
// as one line; under --format json a command that fails before writing its
// own document still prints one on stdout ({"command", "error",
// "exit_code"}), so a script reading stdout always gets JSON.
func run(ctx context.Context, root *cobra.Command, stdout, stderr io.Writer) int {
	out := &countingWriter{w: stdout}
	root.SetOut(out)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitcode.OK
	}
	code := exitCodeOf(err)
	var ee *exitError
	said := errors.As(err, &ee) && ee.Err == nil // the command has said why on its own
	if out.n == 0 && cmd != nil && wantsJSON(cmd) {
		msg := ""
		if !said {
			msg = err.Error()
		}
		_ = writeJSON(out, errorReport{Command: strings.TrimPrefix(cmd.CommandPath(), root.Name()+" "), Error: msg, ExitCode: code})
	}
	if !said {
		fmt.Fprintln(stderr, "pkgstore:", err)
	}
	return code
}

// errorReport is the JSON document of a --format json command that failed
// before it could write its own.
type errorReport struct {
	Command  string `json:"command"`
	Error    string `json:"error"`
	ExitCode int    `json:"exit_code"`
}

// wantsJSON reports whether cmd was asked for --format json.
func wantsJSON(cmd *cobra.Command) bool {
	f := cmd.Flags().Lookup("format")
	return f != nil && f.Value.String() == "json"
}

// countingWriter counts what a command wrote to stdout.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
