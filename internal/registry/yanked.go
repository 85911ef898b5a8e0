package registry

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

// Yanked holds the yanked revisions for the registry's single-package
// routes (a Hidden for Config.Hidden): the index no longer lists them, but
// their documents, zips, signatures and static files stay reachable.
type Yanked struct {
	list     func(ctx context.Context) (map[packageid.ID]bool, error)
	internal *storage.Bucket
	snap     atomic.Pointer[map[packageid.ID]served]

	mu    sync.Mutex
	cache map[packageid.ID]served // by id; a document never changes
}

type served struct {
	cat *catalog.Catalog
	rev *catalog.Revision
}

// NewYanked returns the registry's view of the yanked revisions: list
// says which they are (yank.Store.Hidden), internal holds their package
// documents.
func NewYanked(internal *storage.Bucket, list func(ctx context.Context) (map[packageid.ID]bool, error)) *Yanked {
	return &Yanked{list: list, internal: internal, cache: map[packageid.ID]served{}}
}

// Reload reads the yanked revisions and their documents. A revision whose
// stored document cannot be read or parsed is left out (its pinned URLs
// answer 404) rather than failing the reload: the registry's index
// reload, which calls this, must not stop on one revision.
func (v *Yanked) Reload(ctx context.Context) error {
	y, err := v.list(ctx)
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
func (v *Yanked) load(ctx context.Context, id packageid.ID) (served, error) {
	doc, err := v.internal.ReadAll(ctx, storage.DocumentKey(id))
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
func (v *Yanked) Lookup(id packageid.ID) (*catalog.Catalog, *catalog.Revision, bool) {
	m := v.snap.Load()
	if m == nil {
		return nil, nil, false
	}
	e, ok := (*m)[id]
	return e.cat, e.rev, ok
}
