package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"pkgstore/internal/govern/translog"
	"pkgstore/internal/registry"
	"pkgstore/internal/storage"
)

// openLog opens the transparency log of the internal bucket: writable
// with cfg.LogKey (the note signer key file), read-only (served, never
// appended to) without. A writable log is completed at once: a process
// killed while appending left records the signed head does not cover yet.
func openLog(ctx context.Context, cfg Config, b *storage.Buckets) (*translog.Log, error) {
	lc := translog.Config{Bucket: b.Internal, AfterStep: cfg.AfterStep}
	if cfg.LogKey != "" {
		signer, err := translog.LoadSigner(cfg.LogKey)
		if err != nil {
			return nil, err
		}
		lc.Signer = signer
	}
	l := translog.New(lc)
	if l.Writable() && !cfg.ReadOnly {
		if _, err := l.Complete(ctx); err != nil && !errors.Is(err, translog.ErrNoLog) {
			return nil, fmt.Errorf("complete the transparency log: %w", err)
		}
	}
	return l, nil
}

// withLog serves the transparency log's routes in front of next.
func withLog(l *translog.Log, next http.Handler) http.Handler {
	logh := registry.LogHandler(l)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, registry.LogPrefix) {
			logh.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
