package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/pkg/packageid"
)

func init() { subcommands = append(subcommands, newPublishCmd) }

// needRegistry checks the flags every command that talks to a registry
// takes; the token defaults to PKGSTORE_PUBLISH_TOKEN.
func needRegistry(registryURL string, token *string) error {
	if *token == "" {
		*token = os.Getenv("PKGSTORE_PUBLISH_TOKEN")
	}
	if *token == "" {
		return usageError("no token: pass --token or set PKGSTORE_PUBLISH_TOKEN")
	}
	if registryURL == "" {
		return usageError("--registry URL is required")
	}
	return nil
}

// Exit codes of pkgstore publish.
const (
	exitRefused          = 1
	exitUsage            = 2
	exitAlreadyPublished = 3
)

func newPublishCmd() *cobra.Command {
	var (
		sigPath, registryURL, token string
		unsigned                    bool
		opts                        client.Options
		timeout                     time.Duration
		queueURL, maxZip            string
	)
	cmd := &cobra.Command{
		Use:   "publish PKG.zip",
		Short: "Publish a signed package zip to a pkgstore registry",
		Long: `Publish NAME-VERSION.zip to the registry at --registry, then wait for the
publishing job's outcome. Its detached signature is NAME-VERSION.zip.sig
(pkgstore sign, elastic-package) or NAME-VERSION.zip.asc (gpg --armor
--detach-sign) beside it, or --signature FILE; --unsigned sends none.

An upload answered 429 (rate limited) or 503 (queue full, shutting down) is
sent again from the start, up to five uploads in all, after the server's
Retry-After (capped at 60s) or 1s, 2s, 4s..., never past --timeout. Other
refusals (400, 401, 403, 413) are not retried.

Exit codes: 0 published (or dry run passed), 1 refused (each reason on its
own line), 2 usage or connection error, 3 already published.

With --queue, no registry is asked: the zip and its signature go straight
into the publishing queue of the store's internal bucket, with that
bucket's own credentials (gs://, s3://, azblob:// URL; or a store folder
DIR, as serve --data DIR), and the submission id is printed alone on
stdout; the publishing job (pkgstore job publish, or any serve on the
buckets) then takes it. Exit codes: 0 queued, 1 refused before queueing,
2 usage or bucket error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			zipPath := args[0]
			if queueURL != "" {
				if registryURL != "" || token != "" {
					return usageError("--queue writes into the bucket itself: --registry and --token do not go with it")
				}
			} else if err := needRegistry(registryURL, &token); err != nil {
				return err
			}
			id, err := packageid.ParseZipName(filepath.Base(zipPath))
			if err != nil {
				return usageError("%v", err)
			}
			zf, err := os.Open(zipPath)
			if err != nil {
				return usageError("%v", err)
			}
			defer zf.Close()
			if unsigned && sigPath != "" {
				return usageError("--unsigned and --signature contradict each other")
			}
			var sig []byte
			if !unsigned { // unsigned: the registry decides whether that is allowed
				if _, sig, err = findSignature(zipPath, sigPath); err != nil {
					if errors.Is(err, errNoSignature) {
						return usageError("%v; --unsigned sends none, for a registry that accepts unsigned packages", err)
					}
					return usageError("%v", err)
				}
			}
			if queueURL != "" {
				ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
				defer cancel()
				return publishToQueue(ctx, cmd, queueURL, maxZip, zipPath, zf, sig, opts)
			}
			c, err := client.New(registryURL, token)
			if err != nil {
				return usageError("%v", err)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			out := cmd.OutOrStdout()
			published, err := c.Published(ctx, id)
			if err != nil {
				return &exitError{Code: exitUsage, Err: err}
			}
			if published {
				return &exitError{Code: exitAlreadyPublished, Err: fmt.Errorf("%s is already published at %s", id, registryURL)}
			}
			s, err := c.Publish(ctx, filepath.Base(zipPath), zf, sig, opts)
			if err != nil {
				if errors.Is(err, context.DeadlineExceeded) && s != nil {
					err = fmt.Errorf("no outcome after %s: submission %s is %s; ask again with GET /api/v1/publish/%s", timeout, s.ID, s.Status, s.ID)
				}
				return &exitError{Code: exitUsage, Err: err}
			}
			switch s.Status {
			case api.StatusPublished:
				fmt.Fprintf(out, "published %s (submission %s, sha256 %s)\n", id, s.ID, s.SHA256)
				return nil
			case api.StatusPassed:
				fmt.Fprintf(out, "dry run passed: %s would be published (submission %s)\n", id, s.ID)
				return nil
			}
			fmt.Fprintf(out, "refused %s (submission %s):\n", id, s.ID)
			for _, r := range s.Reasons {
				fmt.Fprintln(out, "  "+r.String())
			}
			if s.Duplicate() {
				return &exitError{Code: exitAlreadyPublished}
			}
			return &exitError{Code: exitRefused}
		},
	}
	f := cmd.Flags()
	f.StringVar(&sigPath, "signature", "", "detached signature (default PKG.zip.sig, else PKG.zip.asc)")
	f.BoolVar(&unsigned, "unsigned", false, "send no signature (for a registry that does not require them)")
	f.StringVar(&registryURL, "registry", "", "registry base URL, e.g. http://localhost:8080")
	f.StringVar(&token, "token", "", "publishing token (default from PKGSTORE_PUBLISH_TOKEN)")
	f.BoolVar(&opts.Legacy, "legacy", false, "skip package-spec validation (packages from Package Storage v1)")
	f.BoolVar(&opts.DryRun, "dry-run", false, "run every check, publish nothing")
	f.DurationVar(&timeout, "timeout", 15*time.Minute, "give up waiting for the outcome after this long (exit 2)")
	f.StringVar(&queueURL, "queue", "", "upload into this internal bucket's queue instead (URL, or a store folder as serve --data) and print the submission id")
	f.StringVar(&maxZip, "max-upload-size", "251MB", "with --queue: largest zip uploaded (the job applies its own limit)")
	return cmd
}
