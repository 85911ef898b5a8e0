package catalog

import (
	"context"
	"errors"
	"fmt"

	"pkgstore/internal/index"
	"pkgstore/internal/storage"
)

// Load builds the catalog of cursor from its search-index-all.json,
// streaming the file entry by entry.
func Load(ctx context.Context, b *storage.Bucket, cursor string) (*Catalog, error) {
	bld := NewBuilder(cursor, 1024)
	err := index.ReadAll(ctx, b, cursor, func(e index.Entry) error {
		r, err := NewRevision(e)
		if err != nil {
			return err
		}
		bld.Add(r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load index %s: %w", cursor, err)
	}
	return bld.Finish()
}

// Update returns the catalog for the bucket's current cursor, starting
// from cur: cur itself when the cursor has not moved, cur with the chain of
// deltas applied when every cursor after cur.Cursor() has one, otherwise
// a full load of the newest complete index (EPR's rule, §3.3: a missing or
// corrupt delta falls back to that cursor's full index, then later deltas
// apply on top of it).
func Update(ctx context.Context, b *storage.Bucket, cur *Catalog) (*Catalog, error) {
	latest, err := index.ReadCursor(ctx, b)
	if errors.Is(err, index.ErrNoCursor) {
		return cur, nil
	}
	if err != nil {
		return nil, err
	}
	if latest == cur.Cursor() {
		return cur, nil
	}
	if cur.Cursor() == "" || latest < cur.Cursor() {
		return Load(ctx, b, latest)
	}
	chain, err := index.ListCursors(ctx, b, cur.Cursor(), latest)
	if err != nil {
		return nil, err
	}
	if len(chain) == 0 || chain[len(chain)-1] != latest {
		// Listing is eventually consistent on some backends; the cursor
		// file is the commit point, so trust it.
		return Load(ctx, b, latest)
	}
	next := cur
	for _, c := range chain {
		d, err := index.ReadDelta(ctx, b, c)
		if err == nil {
			next, err = next.WithDelta(c, d)
		}
		if err != nil {
			if next, err = Load(ctx, b, c); err != nil {
				return nil, err
			}
		}
	}
	return next, nil
}
