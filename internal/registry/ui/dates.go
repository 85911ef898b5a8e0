package ui

import (
	"context"
	"sync"
	"time"

	"pkgstore/internal/pkg/packageid"
)

// Bounds of the publication dates kept; when full the cache starts over.
const maxKeptDates = 1 << 16

// maxDateReads bounds the provenance records read at once for one page.
const maxDateReads = 8

// dateCache keeps the publication date of each revision (the provenance
// record's time; zero when none was recorded). A published revision's date
// never changes, so it is kept across index snapshots.
type dateCache struct {
	mu sync.Mutex
	m  map[packageid.ID]time.Time
}

// published returns the publication dates of ids that the store recorded,
// reading the records not yet kept (a few at a time). failed reports that
// a record could not be read: the page shows no date for it and is not
// cached.
func (h *Handler) published(ctx context.Context, ids []packageid.ID) (dates map[packageid.ID]time.Time, failed bool) {
	dates = make(map[packageid.ID]time.Time, len(ids))
	if h.cfg.Artifacts == nil {
		return dates, false
	}
	var missing []packageid.ID
	h.dates.mu.Lock()
	for _, id := range ids {
		if t, ok := h.dates.m[id]; ok {
			dates[id] = t
		} else {
			missing = append(missing, id)
		}
	}
	h.dates.mu.Unlock()
	if len(missing) == 0 {
		return dates, false
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		sem  = make(chan struct{}, maxDateReads)
		read = map[packageid.ID]time.Time{}
	)
	for _, id := range missing {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rec, err := h.cfg.Artifacts.Artifact(ctx, id)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				h.log.Warn("provenance record unavailable", "package", id.String(), "err", err)
				failed = true
			case rec == nil:
				read[id] = time.Time{}
			default:
				read[id] = rec.Published
			}
		}()
	}
	wg.Wait()
	h.dates.mu.Lock()
	defer h.dates.mu.Unlock()
	if h.dates.m == nil || len(h.dates.m)+len(read) > maxKeptDates {
		h.dates.m = map[packageid.ID]time.Time{}
	}
	for id, t := range read {
		h.dates.m[id] = t
		dates[id] = t
	}
	return dates, failed
}
