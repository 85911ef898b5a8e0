package yank

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/publish/index"
	"pkgstore/internal/registry/catalog"
	"pkgstore/internal/storage"
)

// Served holds the yanked revisions for the registry's single-package
// routes (registry.Hidden): the index no longer lists them, but their
// documents, zips, signatures and static files stay reachable.
type Served struct {
	s    *Store
	snap atomic.Pointer[map[packageid.ID]served]

	mu    sync.Mutex
	cache map[packageid.ID]served // by id; a document never changes
}

type served struct {
	cat *catalog.Catalog
	rev *catalog.Revision
}

// Served returns the registry's view of the store's yanked revisions.
func (s *Store) Served() *Served {
	return &Served{s: s, cache: map[packageid.ID]served{}}
}

// Reload reads the yanked revisions and their documents. A revision whose
// stored document cannot be read or parsed is left out (its pinned URLs
// answer 404) rather than failing the reload: the registry's index
// reload, which calls this, must not stop on one revision.
func (v *Served) Reload(ctx context.Context) error {
	y, err := v.s.Yanked(ctx)
	if err != nil {
		return err
	}
	next := make(map[packageid.ID]served, len(y))
	for id := range y {
		v.mu.Lock()
		e, ok := v.cache[id]
		v.mu.Unlock()
		if !ok {
			if e, err = v.load(ctx, id); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				continue
			}
			v.mu.Lock()
			v.cache[id] = e
			v.mu.Unlock()
		}
		next[id] = e
	}
	v.snap.Store(&next)
	return nil
}

// load builds a one-revision catalog from the stored package document.
func (v *Served) load(ctx context.Context, id packageid.ID) (served, error) {
	doc, err := v.s.b.Internal.ReadAll(ctx, storage.DocumentKey(id))
	if err != nil {
		return served{}, fmt.Errorf("document of yanked %s: %w", id, err)
	}
	rev, err := catalog.NewRevision(index.Entry{ID: id, Manifest: doc})
	if err != nil {
		return served{}, fmt.Errorf("document of yanked %s: %w", id, err)
	}
	b := catalog.NewBuilder("", 1)
	b.Add(rev)
	cat, err := b.Finish()
	if err != nil {
		return served{}, err
	}
	return served{cat: cat, rev: rev}, nil
}

// Lookup returns a yanked revision.
func (v *Served) Lookup(id packageid.ID) (*catalog.Catalog, *catalog.Revision, bool) {
	m := v.snap.Load()
	if m == nil {
		return nil, nil, false
	}
	e, ok := (*m)[id]
	return e.cat, e.rev, ok
}
