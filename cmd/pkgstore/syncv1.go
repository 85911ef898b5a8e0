package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"pkgstore/internal/client"
	"pkgstore/internal/client/syncv1"
	"pkgstore/internal/pkg/signature"
)

func init() { subcommands = append(subcommands, newSyncV1Cmd) }

func newSyncV1Cmd() *cobra.Command {
	var (
		registryURL, token, signKey, passFile string
		workers, parallel                     int
		dryRun                                bool
		format                                string
	)
	cmd := &cobra.Command{
		Use:   "sync-v1 SRC",
		Short: "Migrate a Package Storage v1 checkout (packages/NAME/VERSION/) into a v2 store",
		Long: `sync-v1 publishes every revision of a v1 branch checkout SRC
(packages/NAME/VERSION/ folders) that the registry does not have yet: it
checks with HEAD /epr/NAME/NAME-VERSION.zip, builds the deterministic zip
(root folder NAME-VERSION/), signs it with --sign-key and publishes it as a
legacy package (no package-spec validation; format, identity and signature
are still checked).

--parallel revisions (default 4) are handled at once; the report lists them
in folder order. Uploads answered 429 or 503 are sent again after the
server's Retry-After (capped at 60s).

A rerun publishes nothing new, so an interrupted migration is resumed by
running it again. A broken revision is reported and skipped. On a terminal
a progress bar is drawn; otherwise one line per revision is written.

Exit codes (README): 0 nothing failed, 1 some revision failed (listed in the
summary) or the migration stopped, 2 usage error, 4 token refused, 5
registry unreachable. --format json: one document on stdout, the lines on
stderr.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			if err := needRegistry(registryURL, &token, true); err != nil {
				return err
			}
			if passFile != "" && signKey == "" {
				return usageError("--passphrase-file needs --sign-key")
			}
			if cmd.Flags().Changed("parallel") {
				workers = parallel
			}
			if workers < 0 {
				return usageError("--parallel must be positive")
			}
			c, err := client.New(registryURL, token)
			if err != nil {
				return usageError("%v", err)
			}
			errOut := cmd.ErrOrStderr()
			var key *signature.SigningKey
			if signKey != "" {
				if key, err = signature.LoadSigningKeyFile(signKey, passFile); err != nil {
					return &exitError{Code: 1, Err: err}
				}
			} else {
				fmt.Fprintln(errOut, "warning: no --sign-key: candidates are sent unsigned; a registry that requires signatures refuses them")
			}
			lines := cmd.OutOrStdout()
			if format == "json" {
				lines = errOut
			}
			var rep syncv1.Reporter = &syncv1.LineReporter{W: lines, Name: "sync-v1"}
			if isTerminal(errOut) {
				rep = &syncv1.BarReporter{W: errOut, Name: "sync-v1"}
			}
			sum, err := syncv1.Run(cmd.Context(), syncv1.Config{
				Source:   args[0],
				Client:   c,
				Key:      key,
				Workers:  workers,
				DryRun:   dryRun,
				Reporter: rep,
			})
			exit := syncExit(sum, err)
			if format == "json" {
				return writeRunReport(cmd.OutOrStdout(), syncReport(sum, dryRun), exit)
			}
			if sum != nil {
				sum.WriteSummary(cmd.OutOrStdout(), dryRun)
			}
			return exit
		},
	}
	f := cmd.Flags()
	addFormat(f, &format)
	f.StringVar(&registryURL, "registry", "", "registry base URL, e.g. http://127.0.0.1:8080")
	f.StringVar(&token, "token", "", "publishing token (default $PKGSTORE_TOKEN, then $PKGSTORE_PUBLISH_TOKEN)")
	f.StringVar(&signKey, "sign-key", "", "armored OpenPGP private key that signs every zip")
	f.StringVar(&passFile, "passphrase-file", "", "file holding the private key's passphrase")
	f.IntVar(&parallel, "parallel", syncv1.DefaultParallel, "revisions probed, zipped, signed, uploaded and waited for at once")
	f.IntVar(&workers, "workers", 0, "old name of --parallel")
	_ = f.MarkHidden("workers")
	f.BoolVar(&dryRun, "dry-run", false, "ask the registry to check everything and write nothing")
	return cmd
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// syncExit is sync-v1's exit: the classified cause of a stop, else 1 when
// a revision failed.
func syncExit(sum *syncv1.Summary, err error) error {
	switch {
	case err != nil && errors.Is(err, syncv1.ErrFatal):
		return fail(err)
	case err != nil:
		return fail(fmt.Errorf("sync-v1 stopped: %w", err))
	case !sum.OK():
		return &exitError{Code: 1, Err: fmt.Errorf("%d revision(s) failed", len(sum.Failed))}
	}
	return nil
}
