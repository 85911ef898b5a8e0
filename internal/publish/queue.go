package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"pkgstore/internal/api"
	"pkgstore/internal/govern/audit"
	"pkgstore/internal/storage"
)

// QueueConfig configures Queue.
type QueueConfig struct {
	// MaxZipSize bounds the zip uploaded (default DefaultMaxZipSize); the
	// job refuses a larger one anyway, by its own limit.
	MaxZipSize int64
	// Audit, if set, records the submission's receipt, as the API does.
	Audit  *audit.Log
	Logger *slog.Logger
}

// Queue uploads candidate c straight into the publishing queue of the
// internal bucket and records it as queued: the publishing API's
// UploadZip and Enqueue, with the bucket's own credentials instead of a
// token (Package Storage v2's CI step: upload into the queue bucket, then
// run the job). Whichever job looks at the queue next (`pkgstore job
// publish`, a serve's scan) takes it. Only the internal bucket is needed.
// What it wrote is durable when it returns.
func Queue(ctx context.Context, internal *storage.Bucket, c Candidate, cfg QueueConfig) (*api.Submission, error) {
	if internal == nil {
		return nil, errors.New("publish: no internal bucket")
	}
	// A Publisher that only receives: Submit touches the internal bucket
	// alone, and no worker runs.
	p, err := New(Config{Buckets: &storage.Buckets{Internal: internal}, MaxZipSize: cfg.MaxZipSize, Audit: cfg.Audit, Logger: cfg.Logger, Workers: 1})
	if err != nil {
		return nil, err
	}
	s, err := p.Submit(ctx, c)
	if err != nil {
		return nil, err
	}
	// Queued files are written without fsync (the job syncs before it
	// publishes); a CI step that printed "queued" and exits must not lose
	// the candidate to a power cut.
	if err := internal.Sync(ctx); err != nil {
		return nil, fmt.Errorf("sync the queue: %w", err)
	}
	return s, nil
}
