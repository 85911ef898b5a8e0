package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/client/exitcode"
	"pkgstore/internal/pkg/packageid"
)

func init() { subcommands = append(subcommands, newPublishCmd) }

// needRegistry checks the flags every command that talks to a registry
// takes. The token defaults to PKGSTORE_TOKEN, and for the commands that
// publish (publishing true) to PKGSTORE_PUBLISH_TOKEN after it: that
// variable is a publishing secret and never silently feeds yank, audit or
// verify.
func needRegistry(registryURL string, token *string, publishing bool) error {
	if *token == "" {
		*token = os.Getenv("PKGSTORE_TOKEN")
	}
	if *token == "" && publishing {
		*token = os.Getenv("PKGSTORE_PUBLISH_TOKEN")
	}
	if *token == "" {
		if !publishing && os.Getenv("PKGSTORE_PUBLISH_TOKEN") != "" {
			return usageError("no token: pass --token or set PKGSTORE_TOKEN (PKGSTORE_PUBLISH_TOKEN only serves the publishing commands)")
		}
		if publishing {
			return usageError("no token: pass --token or set PKGSTORE_TOKEN (or PKGSTORE_PUBLISH_TOKEN)")
		}
		return usageError("no token: pass --token or set PKGSTORE_TOKEN")
	}
	if registryURL == "" {
		return usageError("--registry URL is required")
	}
	return nil
}

// publishResult is the outcome of one file of pkgstore publish: a line of
// text, or an element of --format json's "results".
type publishResult struct {
	File       string   `json:"file"`
	Package    string   `json:"package,omitempty"`
	Outcome    string   `json:"outcome"` // published, passed, queued, refused, already_published, error
	Submission string   `json:"submission,omitempty"`
	SHA256     string   `json:"sha256,omitempty"`
	Reasons    []string `json:"reasons,omitempty"`
	Error      string   `json:"error,omitempty"`
	ExitCode   int      `json:"exit_code"`
}

// publishReport is publish --format json's document.
type publishReport struct {
	Results  []publishResult `json:"results"`
	ExitCode int             `json:"exit_code"`
}

func newPublishCmd() *cobra.Command {
	var (
		sigPath, registryURL, token string
		unsigned                    bool
		opts                        client.Options
		timeout                     time.Duration
		queueURL, maxZip, format    string
	)
	cmd := &cobra.Command{
		Use:   "publish PKG.zip [PKG.zip...]",
		Short: "Publish signed package zips to a pkgstore registry",
		Long: `Publish each NAME-VERSION.zip to the registry at --registry, in order, and
wait for the publishing job's outcome of each. A zip's detached signature
is NAME-VERSION.zip.sig (pkgstore sign, elastic-package) or
NAME-VERSION.zip.asc (gpg --armor --detach-sign) beside it, or --signature
FILE (one zip only); --unsigned sends none.

An upload answered 429 (rate limited) or 503 (queue full, shutting down) is
sent again from the start, up to five uploads in all, after the server's
Retry-After (capped at 60s) or 1s, 2s, 4s..., never past --timeout (which
bounds each file). Other refusals (400, 401, 403, 413) are not retried.

Each file gets one outcome: lines on stdout (published, dry run passed,
refused with each reason on its own line, already published), or with
--format json one document {"results": [...], "exit_code": N}.

Exit codes (README): 0 every file published (or dry run passed, or
queued), 1 refused, 2 usage, 3 already published, 4 token refused
(401/403), 5 registry or bucket unreachable (or no outcome within
--timeout). With several files, the worst outcome's: 5 > 4 > 2 > 1 > 3 > 0.

With --queue, no registry is asked: each zip and its signature go straight
into the publishing queue of the store's internal bucket, with that
bucket's own credentials (gs://, s3://, azblob:// URL; or a store folder
DIR, as serve --data DIR), and each submission id is printed alone on
stdout; the publishing job (pkgstore job publish, or any serve on the
buckets) then takes it.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usageError("--format must be text or json, got %q", format)
			}
			if queueURL != "" {
				if registryURL != "" || token != "" {
					return usageError("--queue writes into the bucket itself: --registry and --token do not go with it")
				}
			} else if err := needRegistry(registryURL, &token, true); err != nil {
				return err
			}
			if unsigned && sigPath != "" {
				return usageError("--unsigned and --signature contradict each other")
			}
			if sigPath != "" && len(args) > 1 {
				return usageError("--signature names the signature of one zip: with several, each has its own .sig or .asc beside it")
			}
			var c *client.Client
			if queueURL == "" {
				var err error
				if c, err = client.New(registryURL, token); err != nil {
					return usageError("%v", err)
				}
			}
			text := cmd.OutOrStdout()
			if format == "json" {
				text = io.Discard
			}
			rep := publishReport{Results: []publishResult{}}
			var last error
			for _, zipPath := range args {
				r, err := publishOne(cmd, text, c, zipPath, sigPath, unsigned, queueURL, maxZip, registryURL, timeout, opts)
				r.File = zipPath
				if err != nil {
					r.ExitCode = exitCodeOf(err)
					if r.Outcome == "" {
						r.Outcome = "error"
					}
					var ee *exitError
					if !errors.As(err, &ee) || ee.Err != nil {
						r.Error = err.Error()
					}
					last = err
				}
				rep.Results = append(rep.Results, r)
				rep.ExitCode = exitcode.Worst(rep.ExitCode, r.ExitCode)
			}
			if format == "text" && len(args) == 1 {
				return last // as a single publish always said it
			}
			if format == "json" {
				if err := writeJSON(cmd.OutOrStdout(), rep); err != nil {
					return err
				}
			}
			failed := 0
			for _, r := range rep.Results {
				if r.Error != "" {
					fmt.Fprintf(cmd.ErrOrStderr(), "pkgstore: %s: %s\n", r.File, r.Error)
				}
				if r.ExitCode != exitcode.OK {
					failed++
				}
			}
			if rep.ExitCode == exitcode.OK {
				return nil
			}
			if format == "json" {
				return &exitError{Code: rep.ExitCode}
			}
			return &exitError{Code: rep.ExitCode, Err: fmt.Errorf("%d of %d file(s) not published", failed, len(args))}
		},
	}
	f := cmd.Flags()
	f.StringVar(&sigPath, "signature", "", "detached signature (default PKG.zip.sig, else PKG.zip.asc; one zip only)")
	f.BoolVar(&unsigned, "unsigned", false, "send no signature (for a registry that does not require them)")
	f.StringVar(&registryURL, "registry", "", "registry base URL, e.g. http://localhost:8080")
	f.StringVar(&token, "token", "", "publishing token (default $PKGSTORE_TOKEN, then $PKGSTORE_PUBLISH_TOKEN)")
	f.BoolVar(&opts.Legacy, "legacy", false, "skip package-spec validation (packages from Package Storage v1)")
	f.BoolVar(&opts.DryRun, "dry-run", false, "run every check, publish nothing")
	f.DurationVar(&timeout, "timeout", 15*time.Minute, "give up waiting for a file's outcome after this long (exit 5)")
	f.StringVar(&queueURL, "queue", "", "upload into this internal bucket's queue instead (URL, or a store folder as serve --data) and print the submission id")
	f.StringVar(&maxZip, "max-upload-size", "251MB", "with --queue: largest zip uploaded (the job applies its own limit)")
	f.StringVar(&format, "format", "text", "text or json (one document on stdout)")
	return cmd
}

// publishOne publishes one zip, its text going to out. The error carries
// the file's exit code.
func publishOne(cmd *cobra.Command, out io.Writer, c *client.Client, zipPath, sigPath string, unsigned bool, queueURL, maxZip, registryURL string, timeout time.Duration, opts client.Options) (publishResult, error) {
	var r publishResult
	id, err := packageid.ParseZipName(filepath.Base(zipPath))
	if err != nil {
		return r, usageError("%v", err)
	}
	r.Package = id.String()
	zf, err := os.Open(zipPath)
	if err != nil {
		return r, usageError("%v", err)
	}
	defer zf.Close()
	var sig []byte
	if !unsigned { // unsigned: the registry decides whether that is allowed
		if _, sig, err = findSignature(zipPath, sigPath); err != nil {
			if errors.Is(err, errNoSignature) {
				return r, usageError("%v; --unsigned sends none, for a registry that accepts unsigned packages", err)
			}
			return r, usageError("%v", err)
		}
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
	defer cancel()
	if queueURL != "" {
		return publishToQueue(ctx, cmd, out, queueURL, maxZip, zipPath, zf, sig, opts)
	}
	published, err := c.Published(ctx, id)
	if err != nil {
		return r, fail(err)
	}
	if published {
		r.Outcome = "already_published"
		return r, &exitError{Code: exitcode.AlreadyPublished, Err: fmt.Errorf("%s is already published at %s", id, registryURL)}
	}
	s, err := c.Publish(ctx, filepath.Base(zipPath), zf, sig, opts)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && s != nil {
			err = fmt.Errorf("no outcome after %s: submission %s is %s; ask again with GET /api/v1/publish/%s: %w", timeout, s.ID, s.Status, s.ID, err)
		}
		return r, fail(err)
	}
	r.Submission, r.SHA256 = s.ID, s.SHA256
	switch s.Status {
	case api.StatusPublished:
		r.Outcome = "published"
		fmt.Fprintf(out, "published %s (submission %s, sha256 %s)\n", id, s.ID, s.SHA256)
		return r, nil
	case api.StatusPassed:
		r.Outcome = "passed"
		fmt.Fprintf(out, "dry run passed: %s would be published (submission %s)\n", id, s.ID)
		return r, nil
	}
	r.Outcome = "refused"
	fmt.Fprintf(out, "refused %s (submission %s):\n", id, s.ID)
	for _, reason := range s.Reasons {
		r.Reasons = append(r.Reasons, reason.String())
		fmt.Fprintln(out, "  "+reason.String())
	}
	if s.Duplicate() {
		r.Outcome = "already_published"
		return r, &exitError{Code: exitcode.AlreadyPublished, Err: fmt.Errorf("%s is already published at %s", id, registryURL)}
	}
	return r, &exitError{Code: exitcode.Refused}
}

// writeJSON writes v as the one JSON document of a --format json command.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
