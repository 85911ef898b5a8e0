package catalog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"

	"pkgstore/internal/index"
	"pkgstore/internal/storage"
)

// Load builds the catalog of cursor from its search-index-all.json. The
// file is streamed: a byte scanner cuts it into package documents (one
// cheap pass, no JSON decoding), and GOMAXPROCS workers parse them. The
// scanner is what makes a 20,000-revision index load in about a second:
// the generic decoder reads every document several times.
func Load(ctx context.Context, b *storage.Bucket, cursor string) (*Catalog, error) {
	key := storage.IndexAllKey(cursor)
	rd, err := b.NewReader(ctx, key, nil)
	if err != nil {
		return nil, fmt.Errorf("load index %s: open %s: %w", cursor, key, err)
	}
	defer rd.Close()
	revs, err := parseParallel(ctx, rd)
	if err != nil {
		return nil, fmt.Errorf("load index %s: %w", cursor, err)
	}
	bld := NewBuilder(cursor, len(revs))
	for _, r := range revs {
		bld.Add(r)
	}
	return bld.Finish()
}

type job struct {
	seq int
	raw []byte
}

type result struct {
	seq int
	rev *Revision
}

// parseParallel parses the documents of an index file in order. Its
// workers live only for the call.
func parseParallel(ctx context.Context, r io.Reader) ([]*Revision, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := runtime.GOMAXPROCS(0)
	jobs := make(chan job, 4*workers)
	var (
		mu       sync.Mutex
		results  []result
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var scratch []byte
			var local []result
			for j := range jobs {
				rev, err := parseRevision(j.raw, &scratch)
				if err != nil {
					fail(err)
					continue
				}
				local = append(local, result{j.seq, rev})
			}
			mu.Lock()
			results = append(results, local...)
			mu.Unlock()
		}()
	}
	seq := 0
	scanErr := scanIndex(bufio.NewReaderSize(r, 1<<20), func(raw []byte) error {
		select {
		case jobs <- job{seq, raw}:
			seq++
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if scanErr != nil {
		return nil, scanErr
	}
	sort.Slice(results, func(i, j int) bool { return results[i].seq < results[j].seq })
	out := make([]*Revision, len(results))
	for i, res := range results {
		out[i] = res.rev
	}
	return out, nil
}

// parseRevision parses one package_manifest; its identity comes from the
// document itself.
func parseRevision(raw []byte, scratch *[]byte) (*Revision, error) {
	return newRevisionBuf(index.Entry{Manifest: raw}, scratch)
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
