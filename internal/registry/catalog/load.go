package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"

	"pkgstore/internal/publish/index"
	"pkgstore/internal/storage"
)

// Load builds the catalog of cursor: from the cursor's snapshot
// (snapshot.go) when it has a usable one, otherwise from its
// search-index-all.json (LoadIndex). Source says which, and why a
// snapshot was not used.
func Load(ctx context.Context, b *storage.Bucket, cursor string) (*Catalog, error) {
	c, why := loadSnapshot(ctx, b, cursor)
	if c != nil {
		return c, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load index %s: %w", cursor, err)
	}
	c, err := LoadIndex(ctx, b, cursor)
	if err != nil {
		return nil, err
	}
	c.source = "index (snapshot " + why + ")"
	return c, nil
}

// LoadIndex builds the catalog of cursor from its search-index-all.json. The
// file is streamed: index.ScanAll cuts it into package documents (one
// cheap pass, no JSON decoding), and GOMAXPROCS workers parse them, each
// document through prune (validate, keep only what the catalog reads) and
// then encoding/json on the remainder. Decoding whole documents with
// encoding/json cost three times as much: most of a document is assets,
// variables and streams that no filter reads.
func LoadIndex(ctx context.Context, b *storage.Bucket, cursor string) (*Catalog, error) {
	key := storage.IndexAllKey(cursor)
	rd, err := b.NewReader(ctx, key)
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

// parseParallel parses the documents of an index file in order: the
// caller's goroutine scans, GOMAXPROCS workers (living only for the call)
// parse and compress. Document buffers go back to the scanner through a
// free list once compressed, so a load allocates a few buffers rather than
// one per document.
func parseParallel(ctx context.Context, r io.Reader) ([]*Revision, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := runtime.GOMAXPROCS(0)
	jobs := make(chan job, 4*workers)
	free := make(chan []byte, cap(jobs)+workers+1)
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
	dicts := &dictionaries{}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bufs := buffers{slab: &slab{}, dicts: dicts}
			var local []result
			for j := range jobs {
				rev, err := parseRevision(j.raw, &bufs)
				select {
				case free <- j.raw:
				default:
				}
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
	scanErr := index.ScanAll(r, func(raw []byte) error {
		var buf []byte
		select {
		case buf = <-free:
		default:
		}
		buf = append(buf[:0], raw...)
		select {
		case jobs <- job{seq, buf}:
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
	dicts.forDecoding(out)
	return out, nil
}

// parseRevision parses one package_manifest; its identity comes from the
// document itself. The revision keeps no reference to raw.
func parseRevision(raw []byte, bufs *buffers) (*Revision, error) {
	return newRevisionBuf(index.Entry{Manifest: raw}, bufs)
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
	return UpdateTo(ctx, b, cur, latest)
}

// UpdateTo is Update once the bucket's cursor has been read: latest ("" when
// no index has been written yet).
func UpdateTo(ctx context.Context, b *storage.Bucket, cur *Catalog, latest string) (*Catalog, error) {
	if latest == "" || latest == cur.Cursor() {
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
