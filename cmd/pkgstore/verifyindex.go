package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/publish/indexsig"
	"pkgstore/internal/storage"
)

func init() { subcommands = append(subcommands, newVerifyIndexCmd) }

// verifyIndexReport is verify-index --format json's document.
type verifyIndexReport struct {
	indexsig.ChainReport
	Source   string `json:"source"`
	Error    string `json:"error,omitempty"`
	ExitCode int    `json:"exit_code"`
}

func newVerifyIndexCmd() *cobra.Command {
	var (
		cfg         storage.Config
		registryURL string
		keyrings    []string
		format      string
		timeout     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "verify-index",
		Short: "Check a store's whole chain of signed index statements",
		Long: `Verify-index walks a store's signed index statements (docs/trust.md) from
version 1 to the newest: each signed by a key of --index-keyring, numbered
in order, holding the SHA-256 of the one before and issued no earlier; the
newest not expired and, read from the buckets (--data or --internal-bucket),
matching the index files of its cursor. It prints the first break and exits
1, or 0 when the chain holds; 5 when the store cannot be read.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			if len(keyrings) == 0 {
				return usageError("--index-keyring is required")
			}
			kr, err := signature.LoadKeyring(keyrings...)
			if err != nil {
				return usageError("--index-keyring: %v", err)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			rep := &verifyIndexReport{}
			var src indexsig.Source
			var files func(context.Context, *api.IndexStatement) error
			if registryURL != "" {
				if cmd.Flags().Changed("data") || cfg.InternalURL != "" {
					return usageError("--registry and --data/--internal-bucket exclude each other")
				}
				rep.Source = registryURL
				src = client.TrustSource{BaseURL: registryURL, HTTP: &http.Client{Timeout: timeout}}
			} else {
				cfg.MustExist = true
				b, err := storage.OpenInternal(ctx, cfg)
				if err != nil {
					return fail(err)
				}
				defer b.Close()
				rep.Source = cfg.InternalURL
				if rep.Source == "" {
					rep.Source = cfg.DataDir
				}
				src = indexsig.BucketSource{B: b}
				files = func(ctx context.Context, st *api.IndexStatement) error { return indexsig.CheckFiles(ctx, b, st) }
			}
			rep.ChainReport, err = indexsig.WalkChain(ctx, src, kr, time.Now(), files)
			if err == nil && rep.Break != nil {
				err = &exitError{Code: 1, Err: fmt.Errorf("chain broken at statement %d: %s", rep.Break.Version, rep.Break.Reason)}
			} else if err != nil {
				err = fail(err)
			}
			if format == "json" {
				rep.ExitCode = exitCodeOf(err)
				if err != nil {
					rep.Error = err.Error()
				}
				if werr := writeJSON(cmd.OutOrStdout(), rep); werr != nil {
					return werr
				}
				return err
			}
			printChain(cmd.OutOrStdout(), rep)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data", "./data", "folder holding the store's buckets (its internal bucket is read)")
	f.StringVar(&cfg.InternalURL, "internal-bucket", "", "internal bucket URL; replaces DIR/internal")
	f.StringVar(&registryURL, "registry", "", "read the statements from this registry's /api/v1/trust/ instead (index files not compared)")
	f.StringArrayVar(&keyrings, "index-keyring", nil, "file of armored public keys the statements must be signed with (repeatable)")
	f.DurationVar(&timeout, "timeout", 10*time.Minute, "give up after this long (exit 5)")
	addFormat(f, &format)
	return cmd
}

func printChain(w io.Writer, rep *verifyIndexReport) {
	fmt.Fprintf(w, "%s: %d of %d statements verified", rep.Source, rep.Checked, rep.Latest)
	if rep.Cursor != "" {
		fmt.Fprintf(w, "; newest for cursor %s, expires %s", rep.Cursor, rep.Expires.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(w)
	if rep.Break != nil {
		fmt.Fprintf(w, "first break: statement %d: %s\n", rep.Break.Version, rep.Break.Reason)
	}
}
