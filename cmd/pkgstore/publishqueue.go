package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/client/exitcode"
	"pkgstore/internal/govern/audit"
	"pkgstore/internal/publish"
	"pkgstore/internal/storage"
)

// queueStorage is the storage configuration of `publish --queue VALUE`: a
// bucket URL names the internal bucket itself; anything else is a store
// folder, as serve's --data (its internal/ folder holds the queue). The
// bucket must exist: a wrong path must not start a queue no job reads.
func queueStorage(value string) storage.Config {
	if strings.Contains(value, "://") {
		return storage.Config{InternalURL: value, MustExist: true}
	}
	return storage.Config{DataDir: value, MustExist: true}
}

// publishToQueue is `pkgstore publish --queue`: the seeds' CI step.
func publishToQueue(ctx context.Context, cmd *cobra.Command, out io.Writer, queue, maxZip, zipPath string, zip io.Reader, sig []byte, opts client.Options) (publishResult, error) {
	var r publishResult
	max, err := parseSize(maxZip)
	if err != nil {
		return r, usageError("--max-upload-size: %v", err)
	}
	b, err := storage.OpenInternal(ctx, queueStorage(queue))
	if err != nil {
		return r, fail(fmt.Errorf("--queue %s: %w", queue, err))
	}
	defer b.Close()
	host, _ := os.Hostname()
	s, err := publish.Queue(ctx, b, publish.Candidate{
		FileName: filepath.Base(zipPath), Zip: zip, Signature: sig,
		Options: publish.Options{Legacy: opts.Legacy, DryRun: opts.DryRun, Client: "queue@" + host},
	}, publish.QueueConfig{MaxZipSize: max, Audit: audit.New(b)})
	if err != nil {
		return r, unreachable(fmt.Errorf("queue %s: %w", filepath.Base(zipPath), err))
	}
	r.Package, r.Submission, r.SHA256 = s.Package, s.ID, s.SHA256
	if s.Status == api.StatusRejected {
		r.Outcome = "refused"
		fmt.Fprintf(out, "refused %s (submission %s):\n", s.Package, s.ID)
		for _, reason := range s.Reasons {
			r.Reasons = append(r.Reasons, reason.String())
			fmt.Fprintln(out, "  "+reason.String())
		}
		return r, &exitError{Code: exitcode.Refused}
	}
	r.Outcome = "queued"
	fmt.Fprintln(out, s.ID)
	fmt.Fprintf(cmd.ErrOrStderr(), "queued %s as submission %s; run `pkgstore job publish --submission %s` (or let a serve on the buckets take it)\n", s.Package, s.ID, s.ID)
	return r, nil
}
