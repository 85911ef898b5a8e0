package index

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"pkgstore/internal/pkg/archive"
	"pkgstore/internal/pkg/packagedoc"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/storage"
)

// Indexer writes new cursors of the search index. One pass at a time runs in
// a process; triggers that arrive during a pass coalesce into one more pass.
type Indexer struct {
	b   *storage.Buckets
	log *slog.Logger

	// OnIndexed is called after a pass moved the cursor.
	OnIndexed func(cursor string)
	// Check, if set, vets documents built from zips that had none stored
	// (the publishing job vets the ones it stores); a document it refuses
	// leaves its zip out of the index, like an unreadable zip.
	Check func(Entry) error
	// Hidden, if set, returns published revisions to leave out of the
	// index (yanked ones): the index, and so every registry reading it,
	// treats them as removed.
	Hidden func(ctx context.Context) (map[packageid.ID]bool, error)
	// OnPass, if set, is called after every call of Index (metrics).
	OnPass func(res Result, took time.Duration, err error)
	// Keep and KeepFor bound the old cursors kept after a pass: the newest
	// Keep ones, and any younger than KeepFor, survive, so that replicas
	// loading an older cursor or following deltas are not cut short. A
	// replica that falls further behind reloads the full index.
	Keep    int
	KeepFor time.Duration
	// MinInterval spaces the passes Run makes: a trigger less than
	// MinInterval (or passSpacing times the last pass's length, if more)
	// after the end of the last pass waits for the rest of it,
	// so a burst of publications (a migration) is indexed in a few passes
	// instead of one per publication, while a lone publication is indexed
	// at once. Each pass lists the bucket and rewrites the index files,
	// so per-publication passes cost O(n²) over a burst.
	MinInterval time.Duration
	// BeforeCommit, if set, is called after a pass wrote a cursor's files
	// and just before it moves cursor.json there (the signed index
	// statement, publish/indexsig); an error aborts the pass. Passes that
	// change nothing call it too, with Next == Prev, so that a statement
	// can be re-issued before it expires.
	BeforeCommit func(ctx context.Context, c Commit) error
	// Snapshot, if set, writes the catalog snapshot of a cursor's index
	// unless it has one (registry/catalog.WriteSnapshot, set by the
	// server: the format belongs to the catalog, above this wing). Index
	// calls it once the cursor has moved there and OnIndexed has run, so
	// that it never delays a publication's visibility, and a pass that
	// changes nothing calls it for the current cursor once, so that stores
	// indexed before snapshots existed gain one. A failure is logged, not fatal: readers then parse
	// the JSON index.
	Snapshot func(ctx context.Context, b *storage.Bucket, cursor string) error

	passMu  sync.Mutex
	trigger chan struct{}
	urgent  chan struct{} // TriggerNow: cut the MinInterval wait short
	now     func() time.Time
	// bad holds zips that cannot be indexed (no stored document, and the zip
	// itself cannot be opened): reported once, then left out, so one foreign
	// object never stops indexing. Guarded by passMu.
	bad map[packageid.ID]string
	// last is the cursor this indexer last wrote and the revisions it holds:
	// while cursor.json still names it, a pass need not read it back.
	// Guarded by passMu.
	last struct {
		cursor string
		ids    map[packageid.ID]bool
	}
	// snapshotted is the last cursor Snapshot was called for. Guarded by
	// passMu.
	snapshotted string
}

// NewIndexer returns an indexer over the buckets.
func NewIndexer(b *storage.Buckets, log *slog.Logger) *Indexer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Indexer{b: b, log: log, trigger: make(chan struct{}, 1), urgent: make(chan struct{}, 1), now: time.Now, Keep: 20, KeepFor: 10 * time.Minute, MinInterval: DefaultMinInterval, bad: map[packageid.ID]string{}}
}

// DefaultMinInterval is the default Indexer.MinInterval.
const DefaultMinInterval = 500 * time.Millisecond

// passSpacing: Run waits at least passSpacing times the length of the last
// pass between two passes (TriggerNow included), so passes take at most a
// tenth of the time of a long burst of publications.
const passSpacing = 9

// Trigger schedules a pass; it never blocks.
func (ix *Indexer) Trigger() {
	select {
	case ix.trigger <- struct{}{}:
	default:
	}
}

// TriggerNow schedules a pass that does not wait for MinInterval: for the
// last publication of a burst (nothing else is being published), which
// would otherwise stay invisible for up to MinInterval after its
// publisher was told it is published. It still waits for the spacing the
// last pass's length sets (passSpacing), which is short unless the store
// is large and a pass ran moments ago. It never blocks.
func (ix *Indexer) TriggerNow() {
	select {
	case ix.urgent <- struct{}{}:
	default:
	}
	ix.Trigger()
}

// Run performs a pass whenever triggered, until ctx is done.
func (ix *Indexer) Run(ctx context.Context) {
	var lastEnd time.Time
	var lastTook time.Duration
	for {
		select {
		case <-ctx.Done():
			return
		case <-ix.trigger:
			// A pass rewrites the whole index, so it takes longer as the
			// store grows: spacing passes by a multiple of the last one's
			// length keeps indexing under a tenth of a burst, whatever the
			// store's size.
			// An urgent trigger cuts MinInterval short, but not that
			// spacing: the server cannot tell the last publication of a
			// burst from a pause between two of its publications, and
			// urgent passes as often as publications would cost O(n²).
			spacing := passSpacing * lastTook
			interval := max(ix.MinInterval, spacing)
			if wait := interval - time.Since(lastEnd); wait > 0 {
				// Triggers arriving meanwhile coalesce into this pass.
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				case <-ix.urgent:
					t.Reset(max(spacing-time.Since(lastEnd), 0))
					select {
					case <-ctx.Done():
						t.Stop()
						return
					case <-t.C:
					}
				}
				select {
				case <-ix.trigger:
				default:
				}
			}
			// An urgent trigger is served by this pass.
			select {
			case <-ix.urgent:
			default:
			}
			start := time.Now()
			_, err := ix.Index(ctx)
			lastEnd = time.Now()
			lastTook = lastEnd.Sub(start)
			if err != nil && ctx.Err() == nil {
				ix.log.Error("indexing failed", "err", err)
				// Try again later rather than spinning on a broken bucket.
				select {
				case <-ctx.Done():
					return
				case <-time.After(2 * time.Second):
					ix.Trigger()
				}
			}
		}
	}
}

// Commit is what a pass is about to make current (Indexer.BeforeCommit).
type Commit struct {
	Prev, Next string // Next == Prev: nothing changed
	// Revisions are the revisions Next's index holds.
	Revisions map[packageid.ID]bool
}

// idle is the end of a pass that changed nothing.
func (ix *Indexer) idle(ctx context.Context, res Result, cursor string, revs map[packageid.ID]bool) (Result, bool, error) {
	ix.snapshot(ctx, cursor)
	if ix.BeforeCommit != nil {
		if err := ix.BeforeCommit(ctx, Commit{Prev: cursor, Next: cursor, Revisions: revs}); err != nil {
			return res, false, err
		}
	}
	return res, true, nil
}

// Result describes a pass.
type Result struct {
	Cursor  string // the current cursor after the pass
	Moved   bool   // whether the pass wrote a new cursor
	Total   int
	Added   int
	Removed int
}

// Index makes the index hold exactly the published packages (the zips of
// the public bucket). It writes a new cursor only when something changed,
// and repeats until the cursor it leaves is complete, so concurrent
// indexers in other processes converge.
func (ix *Indexer) Index(ctx context.Context) (res Result, err error) {
	ix.passMu.Lock()
	defer ix.passMu.Unlock()
	if ix.OnPass != nil {
		start := time.Now()
		defer func() { ix.OnPass(res, time.Since(start), err) }()
	}
	var last Result
	for attempt := 0; attempt < 10; attempt++ {
		res, complete, err := ix.pass(ctx)
		if err != nil {
			return res, err
		}
		if res.Moved {
			last = res
		} else if !last.Moved {
			last = res
		}
		if complete {
			if last.Moved {
				if ix.OnIndexed != nil {
					ix.OnIndexed(last.Cursor)
				}
				// After the commit and our own reload: writing the
				// snapshot re-reads the index (0.6 CPU-s at 10,775
				// revisions) and must not delay what was just published.
				// A reader starting in between parses the JSON index.
				ix.snapshot(ctx, last.Cursor)
				if err := ix.Prune(ctx); err != nil {
					ix.log.Warn("pruning old index cursors", "err", err)
				}
			}
			return last, nil
		}
	}
	return last, errors.New("index did not converge after 10 passes (other writers keep moving the cursor)")
}

// pass runs one indexing pass; complete reports that the cursor current at
// its end holds every zip listed at its end.
func (ix *Indexer) pass(ctx context.Context) (Result, bool, error) {
	prev, err := ReadCursor(ctx, ix.b.Internal)
	if err != nil && !errors.Is(err, ErrNoCursor) {
		return Result{}, false, err
	}
	indexed := map[packageid.ID]bool{}
	switch {
	case prev != "" && prev == ix.last.cursor:
		for id := range ix.last.ids {
			indexed[id] = true
		}
	case prev != "":
		if err := ReadAll(ctx, ix.b.Internal, prev, func(e Entry) error {
			indexed[e.ID] = true
			return nil
		}); err != nil {
			return Result{}, false, err
		}
	}
	published, err := ix.listGood(ctx)
	if err != nil {
		return Result{}, false, err
	}
	var added, removed []packageid.ID
	for id := range published {
		if !indexed[id] {
			added = append(added, id)
		}
	}
	for id := range indexed {
		if !published[id] {
			removed = append(removed, id)
		}
	}
	sortIDs(added)
	sortIDs(removed)
	res := Result{Cursor: prev, Total: len(published), Added: len(added), Removed: len(removed)}
	if prev != "" && len(added) == 0 && len(removed) == 0 {
		return ix.idle(ctx, res, prev, published)
	}

	next := ix.nextCursor(prev)
	docs := make(map[packageid.ID]json.RawMessage, len(added))
	kept := added[:0]
	for _, id := range added {
		doc, err := ix.document(ctx, id)
		var unusable *unusableError
		if errors.As(err, &unusable) {
			ix.log.Error("leaving an unusable zip out of the index", "package", id, "err", err)
			ix.bad[id] = err.Error()
			delete(published, id)
			continue
		}
		if err != nil {
			return res, false, fmt.Errorf("document of %s: %w", id, err)
		}
		docs[id] = doc
		kept = append(kept, id)
	}
	added = kept
	res.Added, res.Total = len(added), len(published)
	if prev != "" && len(added) == 0 && len(removed) == 0 {
		return ix.idle(ctx, res, prev, published)
	}
	if err := ix.writeAll(ctx, prev, next, removed, added, docs); err != nil {
		return res, false, err
	}
	if err := ix.writeDelta(ctx, next, added, removed, docs); err != nil {
		return res, false, err
	}
	info, _ := json.Marshal(map[string]any{"previous": prev, "packages": len(published), "written": ix.now().UTC()})
	if err := ix.b.Internal.WriteAll(ctx, storage.IndexInfoKey(next), info, nil); err != nil {
		return res, false, fmt.Errorf("write index info: %w", err)
	}
	// Commit point. If another writer moved the cursor meanwhile, our files
	// were built on a stale base: drop them and start over from its cursor.
	if cur, err := ReadCursor(ctx, ix.b.Internal); err != nil && !errors.Is(err, ErrNoCursor) {
		return res, false, err
	} else if cur != prev {
		ix.log.Info("cursor moved during indexing; redoing the pass", "expected", prev, "found", cur)
		_ = ix.dropCursor(ctx, next)
		return res, false, nil
	}
	if ix.BeforeCommit != nil {
		if err := ix.BeforeCommit(ctx, Commit{Prev: prev, Next: next, Revisions: published}); err != nil {
			_ = ix.dropCursor(ctx, next)
			return res, false, err
		}
	}
	cj, _ := json.Marshal(cursorJSON{Current: next})
	if err := ix.b.Internal.WriteAll(ctx, storage.CursorKey, cj, &storage.WriterOptions{ContentType: "application/json"}); err != nil {
		return res, false, fmt.Errorf("write %s: %w", storage.CursorKey, err)
	}
	res.Cursor, res.Moved = next, true
	ix.last.cursor, ix.last.ids = next, published
	ix.log.Info("index written", "cursor", next, "packages", len(published), "added", len(added), "removed", len(removed))

	// Convergence: whatever the cursor is now (ours, or a racing writer's
	// that landed after ours), it must hold everything published.
	complete, err := ix.complete(ctx, next)
	return res, complete, err
}

// listGood lists the published zips, less the known-unusable and the
// hidden ones.
func (ix *Indexer) listGood(ctx context.Context) (map[packageid.ID]bool, error) {
	published, err := ListPublished(ctx, ix.b.Public)
	if err != nil {
		return nil, err
	}
	for id := range ix.bad {
		delete(published, id)
	}
	if ix.Hidden != nil {
		hidden, err := ix.Hidden(ctx)
		if err != nil {
			return nil, fmt.Errorf("hidden revisions: %w", err)
		}
		for id := range hidden {
			delete(published, id)
		}
	}
	return published, nil
}

// complete reports whether the current cursor holds every published zip.
//
// When the current cursor is the one just written (the usual case), it
// holds every zip listed at the start of the pass, which is all Index
// promises: zips published since then were each followed by a trigger of
// their publisher's indexer, which a later pass serves. Passing again here
// instead would chain passes back to back for as long as a burst of
// publications lasts (each rewriting the whole index), whatever the
// spacing Run keeps between them.
func (ix *Indexer) complete(ctx context.Context, written string) (bool, error) {
	cur, err := ReadCursor(ctx, ix.b.Internal)
	if err != nil {
		return false, err
	}
	if cur == written {
		return true, nil
	}
	// Another writer's cursor landed after ours: it must hold everything
	// published, ours included, or the pass is redone on top of it.
	published, err := ix.listGood(ctx)
	if err != nil {
		return false, err
	}
	n := 0
	if err := ReadAll(ctx, ix.b.Internal, cur, func(e Entry) error {
		if !published[e.ID] {
			return errIncomplete
		}
		n++
		return nil
	}); err != nil {
		if errors.Is(err, errIncomplete) {
			return false, nil
		}
		return false, err
	}
	return n == len(published), nil
}

var errIncomplete = errors.New("index incomplete")

// nextCursor is the current time in nanoseconds, 19 digits wide (so the
// cursors of the next two centuries sort as strings in time order), and
// always greater than prev.
func (ix *Indexer) nextCursor(prev string) string {
	c := fmt.Sprintf("%019d", ix.now().UnixNano())
	if c > prev {
		return c
	}
	if n, err := strconv.ParseUint(prev, 10, 64); err == nil && len(prev) == 19 {
		return fmt.Sprintf("%019d", n+1)
	}
	return prev + "1"
}

// Prune deletes cursors beyond the newest Keep that are older than KeepFor
// (each pass that moves the cursor calls it). Only cursors in our own
// 19-digit format are touched, and never the current one.
//
// A reader following deltas (ours, EPR's -feature-incremental-updates)
// applies the delta of every cursor after its own. One that fell behind
// the pruned cursors would find only the survivors and apply the first
// survivor's delta, which holds the changes since a cursor it never saw,
// and miss the rest for good. So the oldest survivor's delta is deleted
// first: such a reader then loads that cursor's full index (the
// missing-delta rule of both), and no reader at or after it needs it.
func (ix *Indexer) Prune(ctx context.Context) error {
	if ix.Keep <= 0 {
		return nil
	}
	cur, err := ReadCursor(ctx, ix.b.Internal)
	if err != nil {
		return err
	}
	all, err := ListCursors(ctx, ix.b.Internal, "", cur)
	if err != nil {
		return err
	}
	cutoff := ix.now().Add(-ix.KeepFor).UnixNano()
	var drop []string
	for _, c := range all[:max(len(all)-ix.Keep, 0)] {
		ns, err := strconv.ParseInt(c, 10, 64)
		if err != nil || len(c) != 19 || c == cur || ns > cutoff {
			continue
		}
		drop = append(drop, c)
	}
	if len(drop) == 0 {
		return nil
	}
	// The survivors after the newest dropped cursor: the first of them is
	// where a lagging reader lands.
	newest := drop[len(drop)-1]
	for _, c := range all {
		if c > newest {
			err := ix.b.Internal.Delete(ctx, storage.IndexDeltaKey(c))
			if err != nil && !storage.IsNotFound(err) {
				// Keep the old cursors: without them, a lagging reader
				// would apply this delta alone.
				return fmt.Errorf("delete delta of %s before pruning: %w", c, err)
			}
			break
		}
	}
	var errs []error
	for _, c := range drop {
		errs = append(errs, ix.dropCursor(ctx, c))
	}
	return errors.Join(errs...)
}

func (ix *Indexer) dropCursor(ctx context.Context, c string) error {
	var errs []error
	for _, key := range []string{storage.IndexInfoKey(c), storage.IndexSnapshotKey(c)} {
		if err := ix.b.Internal.Delete(ctx, key); err != nil && !storage.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(append(errs, ix.b.Internal.DeletePrefix(ctx, storage.MetadataPrefix+c+"/"))...)
}

// snapshot calls Snapshot for cursor, once per cursor (a failure is
// logged: readers then parse the JSON index).
func (ix *Indexer) snapshot(ctx context.Context, cursor string) {
	if ix.Snapshot == nil || cursor == "" || cursor == ix.snapshotted {
		return
	}
	// Once per cursor, even when it fails: a retry on every idle pass
	// would parse the whole index each time; the next cursor (or the
	// next process) tries again.
	ix.snapshotted = cursor
	if err := ix.Snapshot(ctx, ix.b.Internal, cursor); err != nil {
		ix.log.Warn("catalog snapshot not written; readers will parse the JSON index", "cursor", cursor, "err", err)
	}
}

// ListPublished lists the zips of the public bucket.
func ListPublished(ctx context.Context, b *storage.Bucket) (map[packageid.ID]bool, error) {
	// One level: on file buckets a read of the one folder, with no stat
	// per object (the indexer lists after every burst of publications).
	keys, _, err := b.ListLevel(ctx, storage.PackagesPrefix)
	if err != nil {
		return nil, err
	}
	out := make(map[packageid.ID]bool, len(keys)/2)
	for _, key := range keys {
		name := strings.TrimPrefix(key, storage.PackagesPrefix)
		if strings.Contains(name, "/") || !strings.HasSuffix(name, ".zip") {
			continue
		}
		id, err := packageid.ParseZipName(name)
		if err != nil {
			continue // not ours to index: a stray object
		}
		out[id] = true
	}
	return out, nil
}

func sortIDs(ids []packageid.ID) {
	sort.Slice(ids, func(i, j int) bool {
		if ids[i].Name != ids[j].Name {
			return ids[i].Name < ids[j].Name
		}
		return packageid.Compare(ids[i].Version, ids[j].Version) < 0
	})
}

// document returns the stored package document of id, compacted. A zip
// placed in the bucket by other means (no document) is opened once and its
// document stored for next time.
func (ix *Indexer) document(ctx context.Context, id packageid.ID) (json.RawMessage, error) {
	data, err := ix.b.Internal.ReadAll(ctx, storage.DocumentKey(id))
	if storage.IsNotFound(err) {
		data, err = ix.buildDocument(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return nil, fmt.Errorf("stored document is not JSON: %w", err)
	}
	return buf.Bytes(), nil
}

// unusableError marks a zip that cannot be indexed however often it is
// tried (as opposed to a bucket that failed to answer).
type unusableError struct{ err error }

func (e *unusableError) Error() string { return e.err.Error() }
func (e *unusableError) Unwrap() error { return e.err }

func (ix *Indexer) buildDocument(ctx context.Context, id packageid.ID) ([]byte, error) {
	ix.log.Warn("zip has no stored package document; building it from the zip", "package", id)
	r, err := ix.b.Public.NewReader(ctx, storage.ZipKey(id))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	f, err := os.CreateTemp("", "pkgstore-index-*.zip")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	n, err := io.Copy(f, r)
	if err != nil {
		return nil, err
	}
	pkg, err := archive.Open(f, n, id, archive.DefaultLimits)
	if err != nil {
		return nil, &unusableError{fmt.Errorf("open zip: %w", err)}
	}
	signed, err := ix.b.Public.Exists(ctx, storage.SignatureKey(id))
	if err != nil {
		return nil, err
	}
	doc, err := packagedoc.Build(pkg.FS, packagedoc.Options{Signed: signed, FileOrder: pkg.Paths()})
	if err != nil {
		return nil, &unusableError{fmt.Errorf("package document: %w", err)}
	}
	data, err := packagedoc.Marshal(doc)
	if err != nil {
		return nil, err
	}
	if ix.Check != nil {
		if err := ix.Check(Entry{ID: id, Manifest: data}); err != nil {
			return nil, &unusableError{fmt.Errorf("package document: %w", err)}
		}
	}
	if err := ix.b.Internal.WriteAll(ctx, storage.DocumentKey(id), data, nil); err != nil {
		return nil, err
	}
	return data, nil
}

// writeAll writes the new full index: the previous entries minus the
// removed ones, then the added ones. When nothing was removed and the
// previous file has the shape this indexer writes, its bytes are copied and
// the new entries appended, without decoding it.
func (ix *Indexer) writeAll(ctx context.Context, prev, next string, removed, added []packageid.ID, docs map[packageid.ID]json.RawMessage) error {
	if prev != "" && len(removed) == 0 {
		ok, err := ix.appendAll(ctx, prev, next, added, docs)
		if ok || err != nil {
			return err
		}
	}
	return ix.rewriteAll(ctx, prev, next, removed, added, docs)
}

// allTail ends every search-index-all.json this indexer writes; the byte
// before it is '[' for an empty index and '}' otherwise.
const allTail = "\n]}\n"

// appendAll copies prev's index and appends added. It returns false,
// having written nothing, when prev's file does not end as ours do.
func (ix *Indexer) appendAll(ctx context.Context, prev, next string, added []packageid.ID, docs map[packageid.ID]json.RawMessage) (bool, error) {
	prevKey := storage.IndexAllKey(prev)
	attrs, err := ix.b.Internal.Attributes(ctx, prevKey)
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", prevKey, err)
	}
	n := attrs.Size - int64(len(allTail)) - 1
	if n < int64(len(`{"packages":`)) {
		return false, nil
	}
	end, err := readRange(ctx, ix.b.Internal, prevKey, n, -1)
	if err != nil {
		return false, err
	}
	if string(end[1:]) != allTail || (end[0] != '[' && end[0] != '}') {
		return false, nil
	}
	empty := end[0] == '['
	return true, ix.writeIndexFile(ctx, next, func(bw *bufio.Writer) error {
		r, err := ix.b.Internal.NewRangeReader(ctx, prevKey, 0, n+1)
		if err != nil {
			return err
		}
		defer r.Close()
		if _, err := io.Copy(bw, r); err != nil {
			return err
		}
		for i, id := range added {
			if i > 0 || !empty {
				bw.WriteByte(',')
			}
			writeEntry(bw, docs[id])
		}
		_, err = bw.WriteString(allTail)
		return err
	})
}

func readRange(ctx context.Context, b *storage.Bucket, key string, off, n int64) ([]byte, error) {
	r, err := b.NewRangeReader(ctx, key, off, n)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer r.Close()
	return io.ReadAll(r)
}

func writeEntry(bw *bufio.Writer, doc json.RawMessage) {
	bw.WriteString("\n{\"package_manifest\":")
	bw.Write(doc)
	bw.WriteByte('}')
}

// writeIndexFile writes cursor's search-index-all.json with fill, and
// discards it if fill fails.
func (ix *Indexer) writeIndexFile(ctx context.Context, cursor string, fill func(*bufio.Writer) error) (err error) {
	key := storage.IndexAllKey(cursor)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := ix.b.Internal.NewWriter(wctx, key, &storage.WriterOptions{ContentType: "application/json"})
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			cancel() // discard the partial object
			w.Close()
		}
	}()
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := fill(bw); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// rewriteAll streams the previous index entry by entry, leaving out the
// removed ones, then appends the added ones.
func (ix *Indexer) rewriteAll(ctx context.Context, prev, next string, removed, added []packageid.ID, docs map[packageid.ID]json.RawMessage) error {
	gone := make(map[packageid.ID]bool, len(removed))
	for _, id := range removed {
		gone[id] = true
	}
	return ix.writeIndexFile(ctx, next, func(bw *bufio.Writer) error {
		bw.WriteString(`{"packages":[`)
		first := true
		put := func(doc json.RawMessage) {
			if !first {
				bw.WriteByte(',')
			}
			first = false
			writeEntry(bw, doc)
		}
		if prev != "" {
			if err := ReadAll(ctx, ix.b.Internal, prev, func(e Entry) error {
				if !gone[e.ID] {
					put(e.Manifest)
				}
				return nil
			}); err != nil {
				return err
			}
		}
		for _, id := range added {
			put(docs[id])
		}
		_, err := bw.WriteString(allTail)
		return err
	})
}

func (ix *Indexer) writeDelta(ctx context.Context, next string, added, removed []packageid.ID, docs map[packageid.ID]json.RawMessage) error {
	type entry struct {
		PackageManifest json.RawMessage `json:"package_manifest"`
	}
	d := struct {
		Added   []entry       `json:"added"`
		Updated []entry       `json:"updated"`
		Removed []removedJSON `json:"removed"`
	}{Added: []entry{}, Updated: []entry{}, Removed: []removedJSON{}}
	for _, id := range added {
		d.Added = append(d.Added, entry{docs[id]})
	}
	for _, id := range removed {
		d.Removed = append(d.Removed, removedJSON{Name: id.Name, Version: id.Version})
	}
	// json.Marshal would HTML-escape the documents' <, > and &; EPR keeps
	// them literal.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return err
	}
	if err := ix.b.Internal.WriteAll(ctx, storage.IndexDeltaKey(next), buf.Bytes(), &storage.WriterOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("write delta: %w", err)
	}
	return nil
}
