// Package translog keeps the store's transparency log: every publication
// and every yank or unyank, as a record appended to a Merkle tree in the
// Go checksum database's format (golang.org/x/mod/sumdb/tlog, tiles of
// height 8, tree heads signed with golang.org/x/mod/sumdb/note), in the
// internal bucket under pkgstore/log/. docs/transparency.md says what it
// proves.
//
// Objects are written without a sync of their own (on folders); one Sync
// of the bucket before each new head makes them durable first.
//
// Everything is write-once, so that several writers (goroutines,
// processes, machines on one GCS or S3 bucket) and a kill -9 at any step
// never leave two records with one id or one event with two ids:
//
//	events/KEY       the event's record text, created if absent: the first
//	                 writer fixes the text every later attempt appends
//	records/N        record N, created if absent: the writer that wins id N
//	                 writes record N; a writer never creates N before it has
//	                 seen N-1, so ids have no gaps
//	hashes/N         the stored hashes record N adds (tlog.StoredHashes),
//	                 created if absent, derived from the records
//	ids/KEY          the id of the event's record (a lookup index)
//	tile/8/...       full tiles (hash and data), created if absent, derived
//	latest           the signed tree head covering every record below it
//
// Completing (Complete) derives hashes, ids, full tiles and a new signed
// head from the records: the writer that appends does it, and so does
// anyone who finds records the head does not cover (a writer killed after
// winning its id). Partial tiles are not stored: they are derived from
// the stored hashes and records when asked for, and never change.
package translog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"pkgstore/internal/storage"
)

// Height is the height of the log's tiles, the checksum database's.
const Height = 8

// Errors callers branch on.
var (
	// ErrNotFound: no record for that event, or a tile beyond the tree.
	ErrNotFound = errors.New("not in the log")
	// ErrNoLog: the log has no signed tree head yet.
	ErrNoLog = errors.New("the transparency log is empty")
	// ErrCorrupt: what the bucket holds contradicts itself (a record, a
	// stored hash or a tile rewritten).
	ErrCorrupt = errors.New("transparency log corrupt")
	// ErrReadOnly: appending needs the signing key.
	ErrReadOnly = errors.New("the transparency log has no signing key")
)

// maxScan bounds how many records past the signed tree head one append
// or completion looks at: they are the appends in flight plus those a
// crash left, never many.
const maxScan = 1 << 16

// Config of a Log.
type Config struct {
	// Bucket is the internal bucket.
	Bucket *storage.Bucket
	// Signer signs tree heads; nil opens the log read-only (a replica).
	Signer note.Signer
	// AfterStep, if set, is called after every write step with its name
	// (tests inject crashes there).
	AfterStep func(step string)
}

// Log is the transparency log over a bucket.
type Log struct {
	b      *storage.Bucket
	signer note.Signer
	after  func(string)

	mu     sync.Mutex
	hashes map[int64][]tlog.Hash // stored hashes by record: immutable
	recs   map[int64][]byte      // record texts: immutable
}

// New returns the log of cfg.Bucket.
func New(cfg Config) *Log {
	return &Log{b: cfg.Bucket, signer: cfg.Signer, after: cfg.AfterStep, hashes: map[int64][]tlog.Hash{}, recs: map[int64][]byte{}}
}

// Writable reports whether the log can append (it has the signing key).
func (l *Log) Writable() bool { return l != nil && l.signer != nil }

func (l *Log) step(s string) {
	if l.after != nil {
		l.after(s)
	}
}

const (
	eventsPrefix  = storage.LogPrefix + "events/"
	recordsPrefix = storage.LogPrefix + "records/"
	hashesPrefix  = storage.LogPrefix + "hashes/"
	idsPrefix     = storage.LogPrefix + "ids/"
	latestKey     = storage.LogPrefix + "latest"
)

func recordKey(n int64) string { return fmt.Sprintf("%s%015d", recordsPrefix, n) }
func hashesKey(n int64) string { return fmt.Sprintf("%s%015d", hashesPrefix, n) }

// TileKey is the internal key of a stored (full) tile.
func TileKey(t tlog.Tile) string { return storage.LogPrefix + t.Path() }

// RecordKey is the internal key of record n (tests rewrite it).
func RecordKey(n int64) string { return recordKey(n) }

var textPlain = storage.WriterOptions{ContentType: "text/plain; charset=utf-8"}

// Append records e once: the first call for e's event fixes its text (a
// retry after a crash, with another time, appends the text the first
// attempt chose, returned as stored), sequences it, and completes the log
// so that the returned id is covered by the signed tree head on return.
func (l *Log) Append(ctx context.Context, e Entry) (id int64, stored Entry, err error) {
	if !l.Writable() {
		return 0, Entry{}, ErrReadOnly
	}
	text, err := e.Text()
	if err != nil {
		return 0, Entry{}, err
	}
	key := e.Key()
	err = l.b.CreateIfAbsentNoSync(ctx, eventsPrefix+key, bytes.NewReader(text), &textPlain)
	switch {
	case errors.Is(err, storage.ErrExists):
		if text, err = l.b.ReadAll(ctx, eventsPrefix+key); err != nil {
			return 0, Entry{}, fmt.Errorf("read log event %s: %w", key, err)
		}
		if e, err = ParseEntry(text); err != nil || e.Key() != key {
			return 0, Entry{}, fmt.Errorf("%w: event %s: %v", ErrCorrupt, key, err)
		}
	case err != nil:
		return 0, Entry{}, fmt.Errorf("record log event %s: %w", key, err)
	}
	l.step("event")
	if id, err = l.sequence(ctx, key, text); err != nil {
		return 0, Entry{}, err
	}
	if _, err := l.Complete(ctx); err != nil {
		return 0, Entry{}, err
	}
	return id, e, nil
}

// Event returns the text fixed for an event key, if any (ErrNotFound).
func (l *Log) Event(ctx context.Context, key string) (Entry, error) {
	text, err := l.b.ReadAll(ctx, eventsPrefix+key)
	if storage.IsNotFound(err) {
		return Entry{}, fmt.Errorf("event %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("read log event %s: %w", key, err)
	}
	e, err := ParseEntry(text)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: event %s: %v", ErrCorrupt, key, err)
	}
	return e, nil
}

// sequence gives the event's text an id, unless a record holds it already.
//
// The signed head's size is read before the lookup index: Complete writes
// every index entry below a size before the head of that size, so an
// event sequenced below the size read has its entry, and one at or above
// it is found by the scan.
func (l *Log) sequence(ctx context.Context, key string, text []byte) (int64, error) {
	from, err := l.size(ctx)
	if err != nil {
		return 0, err
	}
	if id, err := l.lookupID(ctx, key); err == nil {
		return id, nil
	} else if !errors.Is(err, ErrNotFound) {
		return 0, err
	}
	for n := from; n < from+maxScan; n++ {
		data, err := l.record(ctx, n)
		if errors.Is(err, ErrNotFound) {
			err = l.b.CreateIfAbsentNoSync(ctx, recordKey(n), bytes.NewReader(text), &textPlain)
			if errors.Is(err, storage.ErrExists) {
				n-- // another writer won n: read it
				continue
			}
			if err != nil {
				return 0, fmt.Errorf("append log record %d: %w", n, err)
			}
			l.step("record")
			return n, nil
		}
		if err != nil {
			return 0, err
		}
		if bytes.Equal(data, text) {
			return n, nil // sequenced already (a crashed attempt, or a completer)
		}
	}
	return 0, fmt.Errorf("%w: more than %d records past the signed tree head", ErrCorrupt, maxScan)
}

func (l *Log) lookupID(ctx context.Context, key string) (int64, error) {
	data, err := l.b.ReadAll(ctx, idsPrefix+key)
	if storage.IsNotFound(err) {
		return 0, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("read log index %s: %w", key, err)
	}
	id, err := strconv.ParseInt(string(data), 10, 64)
	if err != nil || id < 0 {
		return 0, fmt.Errorf("%w: index %s holds %q", ErrCorrupt, key, data)
	}
	return id, nil
}

// record reads record n (ErrNotFound when absent).
func (l *Log) record(ctx context.Context, n int64) ([]byte, error) {
	l.mu.Lock()
	data, ok := l.recs[n]
	l.mu.Unlock()
	if ok {
		return data, nil
	}
	r, err := l.b.NewReader(ctx, recordKey(n))
	if storage.IsNotFound(err) {
		return nil, fmt.Errorf("record %d: %w", n, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read log record %d: %w", n, err)
	}
	defer r.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(r, MaxRecordSize+1)); err != nil {
		return nil, fmt.Errorf("read log record %d: %w", n, err)
	}
	if buf.Len() > MaxRecordSize {
		return nil, fmt.Errorf("%w: record %d is larger than %d bytes", ErrCorrupt, n, MaxRecordSize)
	}
	data = buf.Bytes()
	l.remember(func() { l.recs[n] = data })
	return data, nil
}

// cacheMax bounds each of the in-memory caches (entries).
const cacheMax = 1 << 16

// remember runs put (which adds to a cache) under the lock, emptying the
// caches first when one is full.
func (l *Log) remember(put func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.recs) >= cacheMax {
		clear(l.recs)
	}
	if len(l.hashes) >= cacheMax {
		clear(l.hashes)
	}
	put()
}

// storedHashes reads the hashes record n added.
func (l *Log) storedHashes(ctx context.Context, n int64) ([]tlog.Hash, error) {
	l.mu.Lock()
	hs, ok := l.hashes[n]
	l.mu.Unlock()
	if ok {
		return hs, nil
	}
	data, err := l.b.ReadAll(ctx, hashesKey(n))
	if storage.IsNotFound(err) {
		return nil, fmt.Errorf("hashes of record %d: %w", n, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read log hashes %d: %w", n, err)
	}
	want := tlog.StoredHashCount(n+1) - tlog.StoredHashCount(n)
	if int64(len(data)) != want*tlog.HashSize {
		return nil, fmt.Errorf("%w: hashes of record %d: %d bytes, want %d", ErrCorrupt, n, len(data), want*tlog.HashSize)
	}
	hs = make([]tlog.Hash, want)
	for i := range hs {
		copy(hs[i][:], data[i*tlog.HashSize:])
	}
	l.remember(func() { l.hashes[n] = hs })
	return hs, nil
}

// hashReader reads stored hashes from the hashes objects: the hash at
// (level, n) was added by record ((n+1)<<level)-1, as its level-th.
func (l *Log) hashReader(ctx context.Context) tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			level, n := tlog.SplitStoredHashIndex(x)
			rec := (n+1)<<uint(level) - 1
			hs, err := l.storedHashes(ctx, rec)
			if err != nil {
				return nil, err
			}
			if level >= len(hs) {
				return nil, fmt.Errorf("%w: record %d has no level-%d hash", ErrCorrupt, rec, level)
			}
			out[i] = hs[level]
		}
		return out, nil
	})
}

// Head is a signed tree head: the note and the tree it signs.
type Head struct {
	Tree   tlog.Tree
	Signed []byte
}

// Latest returns the latest signed tree head (ErrNoLog before the first
// record). The store reads its own bucket: the signature is for clients.
func (l *Log) Latest(ctx context.Context) (Head, error) {
	data, err := l.b.ReadAll(ctx, latestKey)
	if storage.IsNotFound(err) {
		return Head{}, ErrNoLog
	}
	if err != nil {
		return Head{}, fmt.Errorf("read signed tree head: %w", err)
	}
	text, _, ok := bytes.Cut(data, []byte("\n\n"))
	if !ok {
		return Head{}, fmt.Errorf("%w: signed tree head is not a note", ErrCorrupt)
	}
	tree, err := tlog.ParseTree(append(text, '\n'))
	if err != nil {
		return Head{}, fmt.Errorf("%w: signed tree head: %v", ErrCorrupt, err)
	}
	return Head{Tree: tree, Signed: data}, nil
}

func (l *Log) size(ctx context.Context) (int64, error) {
	h, err := l.Latest(ctx)
	if errors.Is(err, ErrNoLog) {
		return 0, nil
	}
	return h.Tree.N, err
}

// Complete derives what the records past the signed tree head lack
// (stored hashes, index entries, full tiles) and signs a head covering
// them all; it returns that head. A writer calls it after each append, and
// a process that starts calls it to finish what a crash left.
func (l *Log) Complete(ctx context.Context) (Head, error) {
	if !l.Writable() {
		return Head{}, ErrReadOnly
	}
	head, err := l.Latest(ctx)
	if err != nil && !errors.Is(err, ErrNoLog) {
		return Head{}, err
	}
	start := head.Tree.N
	hr := l.hashReader(ctx)
	end := start
	for ; end < start+maxScan; end++ {
		text, err := l.record(ctx, end)
		if errors.Is(err, ErrNotFound) {
			break
		}
		if err != nil {
			return Head{}, err
		}
		e, err := ParseEntry(text)
		if err != nil {
			return Head{}, fmt.Errorf("%w: record %d: %v", ErrCorrupt, end, err)
		}
		if err := l.storeHashes(ctx, end, text, hr); err != nil {
			return Head{}, err
		}
		if err := l.b.WriteAll(ctx, idsPrefix+e.Key(), []byte(strconv.FormatInt(end, 10)), &textPlain); err != nil {
			return Head{}, fmt.Errorf("write log index %s: %w", e.Key(), err)
		}
		l.step("index")
	}
	if end == start {
		if head.Signed == nil {
			return Head{}, ErrNoLog
		}
		return head, nil
	}
	tiles := tlog.NewTiles(Height, start, end)
	// NewTiles lists hash tiles; the data tiles filled are those of level 0.
	for _, t := range tiles {
		if t.L == 0 {
			t.L = -1
			tiles = append(tiles, t)
		}
	}
	for _, t := range tiles {
		if t.W != 1<<Height {
			continue // partial tiles are derived when asked for
		}
		data, err := l.tileData(ctx, t)
		if err != nil {
			return Head{}, err
		}
		if err := l.b.CreateIfAbsentNoSync(ctx, TileKey(t), bytes.NewReader(data), nil); err != nil && !errors.Is(err, storage.ErrExists) {
			return Head{}, fmt.Errorf("write tile %s: %w", t.Path(), err)
		}
		l.step("tile")
	}
	th, err := tlog.TreeHash(end, hr)
	if err != nil {
		return Head{}, fmt.Errorf("tree hash of %d records: %w", end, err)
	}
	tree := tlog.Tree{N: end, Hash: th}
	signed, err := note.Sign(&note.Note{Text: string(tlog.FormatTree(tree))}, l.signer)
	if err != nil {
		return Head{}, fmt.Errorf("sign tree head: %w", err)
	}
	// Another completer may have signed a larger head meanwhile: never
	// replace it by a smaller one (a race between the read and the write
	// may still, rarely; the next completion puts the larger back, and
	// clients take a smaller head only with a proof that it is a prefix).
	if cur, err := l.Latest(ctx); err == nil && cur.Tree.N >= end {
		return cur, nil
	}
	// Everything above is written without a sync of its own (folders):
	// one Sync makes it durable before the head that covers it.
	if err := l.b.Sync(ctx); err != nil {
		return Head{}, fmt.Errorf("sync the transparency log: %w", err)
	}
	if err := l.b.WriteAll(ctx, latestKey, signed, &textPlain); err != nil {
		return Head{}, fmt.Errorf("write signed tree head: %w", err)
	}
	l.step("head")
	return Head{Tree: tree, Signed: signed}, nil
}

// storeHashes writes the stored hashes of record n, or checks those there.
func (l *Log) storeHashes(ctx context.Context, n int64, text []byte, hr tlog.HashReader) error {
	hs, err := tlog.StoredHashes(n, text, hr)
	if err != nil {
		return fmt.Errorf("hashes of record %d: %w", n, err)
	}
	buf := make([]byte, 0, len(hs)*tlog.HashSize)
	for _, h := range hs {
		buf = append(buf, h[:]...)
	}
	err = l.b.CreateIfAbsentNoSync(ctx, hashesKey(n), bytes.NewReader(buf), nil)
	if errors.Is(err, storage.ErrExists) {
		have, err := l.storedHashes(ctx, n)
		if err != nil {
			return err
		}
		for i := range hs {
			if have[i] != hs[i] {
				return fmt.Errorf("%w: stored hashes of record %d do not match its text", ErrCorrupt, n)
			}
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("write hashes of record %d: %w", n, err)
	}
	l.remember(func() { l.hashes[n] = hs })
	l.step("hashes")
	return nil
}

// tileData derives tile t from the stored hashes (hash tiles) or the
// records (data tiles, each record's text followed by a blank line, as the
// checksum database serves them).
func (l *Log) tileData(ctx context.Context, t tlog.Tile) ([]byte, error) {
	if t.L >= 0 {
		return tlog.ReadTileData(t, l.hashReader(ctx))
	}
	var out []byte
	start := t.N << uint(t.H)
	for i := range int64(t.W) {
		text, err := l.record(ctx, start+i)
		if err != nil {
			return nil, err
		}
		out = append(out, text...)
		out = append(out, '\n')
	}
	return out, nil
}

// Tile returns tile t, if the tree of the latest signed head holds it:
// full tiles from the bucket (derived if a crash left one unwritten),
// partial ones derived.
func (l *Log) Tile(ctx context.Context, t tlog.Tile) ([]byte, error) {
	head, err := l.Latest(ctx)
	if err != nil {
		return nil, err
	}
	// Bounds first, so that the shifts below cannot overflow.
	if t.H != Height || t.W <= 0 || t.W > 1<<Height || t.L > 7 || t.N < 0 || t.N > head.Tree.N {
		return nil, fmt.Errorf("tile %s: %w", t.Path(), ErrNotFound)
	}
	level := t.L
	if level < 0 {
		level = 0
	}
	// The tile's last hash must be in the tree.
	if last := (t.N<<uint(Height) + int64(t.W)) << uint(level*Height); last > head.Tree.N || t.N < 0 {
		return nil, fmt.Errorf("tile %s: %w", t.Path(), ErrNotFound)
	}
	if t.W == 1<<Height {
		data, err := l.b.ReadAll(ctx, TileKey(t))
		if err == nil {
			return data, nil
		}
		if !storage.IsNotFound(err) {
			return nil, fmt.Errorf("read tile %s: %w", t.Path(), err)
		}
	}
	return l.tileData(ctx, t)
}

// Lookup returns the id and text of an event's record, with the signed
// head covering it.
func (l *Log) Lookup(ctx context.Context, key string) (int64, []byte, Head, error) {
	head, err := l.Latest(ctx)
	if err != nil {
		return 0, nil, Head{}, err
	}
	id, err := l.lookupID(ctx, key)
	if err != nil {
		return 0, nil, Head{}, err
	}
	if id >= head.Tree.N {
		return 0, nil, Head{}, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	text, err := l.record(ctx, id)
	if err != nil {
		return 0, nil, Head{}, err
	}
	return id, text, head, nil
}
