package proxy

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"pkgstore/internal/client/mirror"
	"pkgstore/internal/pkg/packageid"
)

// pull downloads a revision from the upstream, verifies it and publishes
// it into the local store, then waits until the local index serves it.
// Concurrent requests for one revision share one download.
func (p *Proxy) pull(ctx context.Context, id packageid.ID) error {
	_, err, _ := p.flight.Do(id.String(), func() (any, error) {
		if p.cfg.Local.Has(id) {
			return nil, nil
		}
		// The download outlives one impatient client: it serves the next.
		ctx := context.WithoutCancel(ctx)
		tmp, err := os.CreateTemp(p.cfg.Cache.TempDir, "pkgstore-proxy-*.zip")
		if err != nil {
			return nil, err
		}
		defer func() {
			tmp.Close()
			os.Remove(tmp.Name())
		}()
		rev := mirror.Revision{Name: id.Name, Version: id.Version, Download: "/epr/" + id.Name + "/" + id.ZipName(), SignaturePath: "/epr/" + id.Name + "/" + id.ZipName() + ".sig"}
		got, err := p.fetch.Fetch(ctx, rev, tmp)
		if err != nil {
			return nil, err
		}
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		if err := p.cfg.Cache.Publish(ctx, id.ZipName(), io.LimitReader(tmp, got.Size), got.Signature); err != nil {
			return nil, fmt.Errorf("publish %s: %w", id, err)
		}
		wait := p.cfg.Cache.Visible
		if wait <= 0 {
			wait = 30 * time.Second
		}
		deadline := time.Now().Add(wait)
		for !p.cfg.Local.Has(id) {
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("%s published but not in the local index after %s", id, wait)
			}
			time.Sleep(20 * time.Millisecond)
		}
		p.log.Info("proxy cache: revision kept", "package", id.String(), "bytes", got.Size)
		return nil, nil
	})
	return err
}
