package pkgpath

import (
	"context"
	"fmt"
)

// WriteCache writes the cache pack that Open left to its caller
// (Config.DeferCache): one record per package served, its document taken
// back from the catalog. On a first start over the distribution image's
// 1,918 zips, writing the pack during the scan was about 5 % of the CPU
// spent before the registry could answer; written afterwards it delays
// nothing. As when Open writes it, the pack is written beside the old one
// and renamed over it only when whole: a process stopped before or during
// the write leaves the old pack (or none), whose records that no longer
// match are only misses at the next start. It does nothing when there is
// nothing deferred, and writes once.
func (s *Set) WriteCache(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.deferred {
		return nil
	}
	s.deferred = false
	w, err := newPack(s.cfg.CacheDir)
	if err != nil {
		return fmt.Errorf("package path cache: %w", err)
	}
	for _, e := range s.known {
		if err := ctx.Err(); err != nil {
			w.discard()
			return err
		}
		doc, err := e.rev.StoredDocument()
		if err != nil {
			w.discard()
			return fmt.Errorf("package path cache: %w", err)
		}
		w.add(e, doc)
	}
	return w.commit(s.cfg.CacheDir)
}
