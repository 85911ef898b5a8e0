package server

import (
	"context"
	"fmt"
	"log/slog"

	"pkgstore/internal/govern/audit"
	"pkgstore/internal/govern/yank"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/publish"
	"pkgstore/internal/publish/index"
	"pkgstore/internal/registry/catalog"
	"pkgstore/internal/storage"
)

// jobConfig is the publishing job's configuration from a store's: the
// same for serve's workers and for `pkgstore job publish`, so that a
// candidate gets the same checks whichever process takes it.
func jobConfig(cfg Config, b *storage.Buckets, keyring *signature.Keyring, log *audit.Log) publish.Config {
	pcfg := publish.Config{
		Buckets:           b,
		Keyring:           keyring,
		StoreKey:          cfg.StoreKey,
		RequireSignatures: cfg.RequireSignatures,
		Limits:            cfg.Limits,
		MaxZipSize:        cfg.MaxUploadSize,
		Workers:           cfg.Workers,
		CheckDocument:     catalog.Check,
		Logger:            cfg.Logger,
		AfterStep:         cfg.AfterStep,
		ShutdownGrace:     cfg.HTTP.ShutdownGrace,
		Audit:             log,
	}
	if !cfg.NoSpecValidation {
		pcfg.Validate = publish.ValidateSpec
	}
	return pcfg
}

// Job is the publishing job and the indexer over a store's buckets with
// no server: `pkgstore job publish` and `pkgstore job index`, the jobs of
// Package Storage v2's shape (a CI queues a candidate, then runs the job).
// It works the buckets as serve's workers do, so jobs and running serves
// may share them.
type Job struct {
	Buckets   *storage.Buckets
	Publisher *publish.Publisher
	Indexer   *index.Indexer
}

// NewJob opens an existing store (cfg.Storage, which must exist: a job
// never creates an empty store where a path is wrong) and builds its
// publishing job from the settings serve's publishing job takes:
// Keyrings, RequireSignatures, Limits, MaxUploadSize, NoSpecValidation,
// Workers, Logger, HTTP.ShutdownGrace.
func NewJob(ctx context.Context, cfg Config) (*Job, error) {
	cfg.Storage.MustExist = true
	b, err := storage.Open(ctx, cfg.Storage)
	if err != nil {
		return nil, err
	}
	var keyring *signature.Keyring
	if len(cfg.Keyrings) > 0 {
		if keyring, err = signature.LoadKeyring(cfg.Keyrings...); err != nil {
			b.Close()
			return nil, err
		}
	}
	j := &Job{Buckets: b}
	pcfg := jobConfig(cfg, b, keyring, audit.New(b.Internal))
	if cfg.LogKey != "" {
		if pcfg.Log, err = openLog(ctx, cfg, b); err != nil {
			b.Close()
			return nil, err
		}
	}
	p, err := publish.New(pcfg)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("publishing job: %w", err)
	}
	j.Publisher = p
	j.Indexer = NewIndexer(b, cfg.Logger)
	if _, err := SignIndexer(j.Indexer, b, cfg.Trust, cfg.Logger); err != nil {
		b.Close()
		return nil, err
	}
	return j, nil
}

// NewIndexer is the indexer serve runs, for one pass by hand: documents
// checked as the registry will load them, yanked revisions left out.
func NewIndexer(b *storage.Buckets, log *slog.Logger) *index.Indexer {
	ix := index.NewIndexer(b, log)
	ix.Check = catalog.Check
	ix.Hidden = yank.New(b, nil).Hidden
	ix.Snapshot = catalog.WriteSnapshot
	return ix
}

// Close closes the buckets.
func (j *Job) Close() error { return j.Buckets.Close() }
