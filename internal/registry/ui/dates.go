package ui

import (
	"context"
	"sync"
	"time"

	"pkgstore/internal/pkg/packageid"
)

// Bounds of the per-revision facts kept; when full a cache starts over.
const maxKept = 1 << 16

// maxRecordReads bounds the records one page reads at once.
const maxRecordReads = 8

// revisionFacts keeps one fact of each revision that is read from a record
// of the store (a publication date, the field names of its README) and
// never changes once published, so it is kept across index snapshots.
type revisionFacts[V any] struct {
	mu  sync.Mutex
	m   map[packageid.ID]V
	max int // facts kept before the cache starts over; 0: maxKept
}

// get returns the facts of ids, reading with load (a few at a time) those
// not yet kept. A failed load is not kept and sets failed: the page shows
// nothing for that revision and is not cached.
func (k *revisionFacts[V]) get(ctx context.Context, ids []packageid.ID, load func(context.Context, packageid.ID) (V, error)) (facts map[packageid.ID]V, failed bool) {
	facts = make(map[packageid.ID]V, len(ids))
	var missing []packageid.ID
	k.mu.Lock()
	for _, id := range ids {
		if v, ok := k.m[id]; ok {
			facts[id] = v
		} else {
			missing = append(missing, id)
		}
	}
	k.mu.Unlock()
	if len(missing) == 0 {
		return facts, false
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		sem  = make(chan struct{}, maxRecordReads)
		read = map[packageid.ID]V{}
	)
	for _, id := range missing {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			v, err := load(ctx, id)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = true
				return
			}
			read[id] = v
		}()
	}
	wg.Wait()
	k.mu.Lock()
	defer k.mu.Unlock()
	limit := k.max
	if limit <= 0 {
		limit = maxKept
	}
	if k.m == nil || len(k.m)+len(read) > limit {
		k.m = map[packageid.ID]V{}
	}
	for id, v := range read {
		k.m[id] = v
		facts[id] = v
	}
	return facts, failed
}

// forget drops what is kept of id (its record has just been written).
func (k *revisionFacts[V]) forget(id packageid.ID) {
	k.mu.Lock()
	delete(k.m, id)
	k.mu.Unlock()
}

// published returns the publication dates of ids that the store recorded
// (the provenance record's time; zero when none was recorded).
func (h *Handler) published(ctx context.Context, ids []packageid.ID) (map[packageid.ID]time.Time, bool) {
	if h.cfg.Artifacts == nil {
		return map[packageid.ID]time.Time{}, false
	}
	return h.dates.get(ctx, ids, func(ctx context.Context, id packageid.ID) (time.Time, error) {
		rec, err := h.cfg.Artifacts.Artifact(ctx, id)
		switch {
		case err != nil:
			h.log.Warn("provenance record unavailable", "package", id.String(), "err", err)
			return time.Time{}, err
		case rec == nil:
			return time.Time{}, nil
		}
		return rec.Published, nil
	})
}
