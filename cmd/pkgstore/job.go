package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"pkgstore/internal/api"
	"pkgstore/internal/client/exitcode"
	"pkgstore/internal/pkg/archive"
	"pkgstore/internal/publish"
	"pkgstore/internal/server"
)

func init() { subcommands = append(subcommands, newJobCmd) }

// newJobCmd is Package Storage v2's jobs, each run once: a CI queues a
// candidate (pkgstore publish --queue), then runs the publishing job;
// indexing runs on its own (a CronJob).
func newJobCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "job",
		Short: "Run the publishing job or the indexer once over the buckets, and exit",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return usageError("name the job: pkgstore job publish, or pkgstore job index")
		},
	}
	idx := newIndexCmd()
	idx.Short += " (also `pkgstore index`)"
	cmd.AddCommand(newJobPublishCmd(), idx)
	return cmd
}

func newJobPublishCmd() *cobra.Command {
	cfg := server.Config{Limits: archive.DefaultLimits}
	var (
		logLevel, logFormat, maxZip string
		lim                         sizeFlags
		only                        []string
		timeout                     time.Duration
		indexAfter                  bool
		storeKey                    storeKeyFlags
	)
	cmd := &cobra.Command{
		Use:   "publish",
		Short: "Publish what is in the queue once (serve's publishing job), print each outcome, exit",
		Long: `Run the publishing job once over the internal bucket's queue: every
submission queued when it starts (or only --submission IDs) is checked and
published, or refused, exactly as serve's workers do it, with the same
leases and claims: running serves and other jobs may work the same buckets
at once, and a submission another process holds is waited for. Submissions
queued after the start are left for the next run. The checks take the
flags serve takes for them (--keyring, --require-signatures, size limits,
--no-spec-validation). Nothing is indexed unless --index is given: run
` + "`pkgstore job index`" + ` after it, or on a schedule.

Output: one line per submission (published, dry run passed, or refused
followed by each reason on its own line), in queue order.

Exit codes: 0 every submission published (or its dry run passed, or the
queue was empty), 1 something was refused, 2 usage (a --submission that
names none), 5 a bucket cannot be opened or read, or --timeout ended the run first (the unfinished
submissions stay queued).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newFormatLogger(logFormat, logLevel)
			if err != nil {
				return err
			}
			cfg.Logger = log
			if cfg.MaxUploadSize, err = parseSize(maxZip); err != nil {
				return usageError("--max-upload-size: %v", err)
			}
			if cfg.Limits, err = lim.limits(); err != nil {
				return err
			}
			if cfg.StoreKey, err = storeKey.load("store-signing-key"); err != nil {
				return err
			}
			if cfg.RequireSignatures && len(cfg.Keyrings) == 0 {
				log.Warn("no --keyring given: every candidate will be refused (or pass --require-signatures=false)")
			}
			job, err := server.NewJob(cmd.Context(), cfg)
			if err != nil {
				return fail(err)
			}
			defer job.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			out, err := job.Publisher.Drain(ctx, publish.DrainOptions{Only: only})
			if err != nil {
				return unreachable(err)
			}
			status := printOutcomes(cmd.OutOrStdout(), out)
			if indexAfter && anyPublished(out) {
				// The seeds' indexing job, triggered by a successful
				// publishing job; a failed pass is a bucket error.
				res, err := job.Indexer.Index(ctx)
				if err != nil {
					return unreachable(fmt.Errorf("index: %w", err))
				}
				fmt.Fprintf(cmd.OutOrStdout(), "indexed: cursor %s, %d packages (%d added, %d removed)\n", res.Cursor, res.Total, res.Added, res.Removed)
			}
			return status
		},
	}
	f := cmd.Flags()
	storageFlags(f, &cfg.Storage)
	f.StringArrayVar(&cfg.Keyrings, "keyring", nil, "file of trusted armored OpenPGP public keys (repeatable)")
	f.StringVar(&cfg.LogKey, "log-key", "", "transparency log signer key file: append each publication to the log, as serve --log-key does")
	f.BoolVar(&cfg.RequireSignatures, "require-signatures", true, "refuse packages without a detached signature")
	storeKey.add(f, "store-signing-key", "armored OpenPGP private key the store signs each verified publication with (as serve's)")
	f.BoolVar(&cfg.NoSpecValidation, "no-spec-validation", false, "skip package-spec validation for every package (as if all were --legacy)")
	f.IntVar(&cfg.Workers, "workers", 0, "candidates checked and published at once (default: cores + 1, at least 2)")
	f.StringVar(&maxZip, "max-upload-size", "251MB", "largest candidate zip")
	lim.add(f)
	f.StringArrayVar(&only, "submission", nil, "work on this submission only, the id `pkgstore publish --queue` printed (repeatable)")
	f.DurationVar(&timeout, "timeout", 15*time.Minute, "stop after this long: what is unfinished goes back to the queue (exit 2)")
	f.DurationVar(&cfg.HTTP.ShutdownGrace, "shutdown-grace", 10*time.Second, "at --timeout or SIGTERM, time the publications in progress get to finish")
	f.BoolVar(&indexAfter, "index", false, "when something was published, run one indexing pass (job index) before exiting")
	indexSigningFlags(f, &cfg.Trust)
	f.StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "text", "text, or ecs (JSON with Elastic Common Schema field names)")
	return cmd
}

func anyPublished(out []publish.Outcome) bool {
	for _, o := range out {
		if o.Err == nil && o.Submission != nil && o.Submission.Status == api.StatusPublished {
			return true
		}
	}
	return false
}

// printOutcomes writes one line per submission (a refusal's reasons on
// lines of their own) and returns the run's exit status.
func printOutcomes(w io.Writer, out []publish.Outcome) error {
	if len(out) == 0 {
		fmt.Fprintln(w, "the queue is empty: nothing to publish")
		return nil
	}
	var published, refused, unfinished, unknown int
	for _, o := range out {
		s := o.Submission
		name := o.ID
		if s != nil && s.Name != "" {
			name = s.Name + "-" + s.Version
		} else if s != nil && s.Package != "" {
			name = s.Package
		}
		switch {
		case o.Err != nil:
			unfinished++
			if errors.Is(o.Err, publish.ErrUnknownSubmission) {
				unknown++ // a --submission that names none: a usage mistake
				fmt.Fprintf(w, "unknown submission %s: %v\n", o.ID, o.Err)
			} else {
				fmt.Fprintf(w, "not finished %s (submission %s): %v\n", name, o.ID, o.Err)
			}
		case s.Status == api.StatusPublished:
			published++
			fmt.Fprintf(w, "published %s (submission %s, sha256 %s)\n", name, o.ID, s.SHA256)
		case s.Status == api.StatusPassed:
			published++
			fmt.Fprintf(w, "dry run passed: %s would be published (submission %s)\n", name, o.ID)
		default:
			refused++
			fmt.Fprintf(w, "refused %s (submission %s):\n", name, o.ID)
			for _, r := range s.Reasons {
				fmt.Fprintln(w, "  "+r.String())
			}
		}
	}
	fmt.Fprintf(w, "%d submissions: %d published, %d refused, %d not finished\n", len(out), published, refused, unfinished)
	switch {
	case unfinished > unknown:
		return &exitError{Code: exitcode.Unreachable}
	case unknown > 0:
		return &exitError{Code: exitcode.Usage}
	case refused > 0:
		return &exitError{Code: exitcode.Refused}
	}
	return nil
}
