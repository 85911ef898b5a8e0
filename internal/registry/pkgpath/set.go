package pkgpath

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/publish/index"
	"pkgstore/internal/registry/catalog"
)

// Config configures a Set.
type Config struct {
	// Paths are the package paths in precedence order (the first path
	// wins a duplicate NAME-VERSION, zips before folders, as in EPR).
	Paths []string
	Options
	// CacheDir, if set, keeps the document built for each package (one
	// file each), so that a restart over unchanged folders reads no
	// package again. It must be the Set's own folder: files there that no
	// package needs are removed.
	CacheDir string
	// Workers bound the packages loaded at once (default twice GOMAXPROCS;
	// EPR's -package-paths-workers).
	Workers int
	Logger  *slog.Logger
}

// Package is one package served from a package path.
type Package struct {
	ID packageid.ID
	// Path is the zip file or the version folder.
	Path string
	// Zip tells which; Root is the package folder inside a zip.
	Zip  bool
	Root string
	// SigPath is the signature file, "" when there is none.
	SigPath string
	Rev     *catalog.Revision
}

// Source is one scan's packages: immutable, swapped as a whole.
type Source struct {
	cat   *catalog.Catalog
	byRev map[*catalog.Revision]*Package
	byID  map[packageid.ID]*Package
}

// Catalog returns the packages as a catalog, in EPR's precedence order.
func (s *Source) Catalog() *catalog.Catalog { return s.cat }

// Package returns the package serving rev, or nil when rev is not one of
// this source's (a store revision that won a duplicate, for instance).
func (s *Source) Package(rev *catalog.Revision) *Package {
	if s == nil {
		return nil
	}
	return s.byRev[rev]
}

// Lookup returns the package NAME-VERSION of this source.
func (s *Source) Lookup(id packageid.ID) (*Package, bool) {
	if s == nil {
		return nil, false
	}
	p, ok := s.byID[id]
	return p, ok
}

// Len is the number of packages.
func (s *Source) Len() int { return len(s.byID) }

// entry is one loaded candidate, remembered across scans and, in the
// cache folder, across restarts. The document itself is only held while
// the revision is built: the catalog keeps it compressed.
type entry struct {
	Options     string `json:"options"`
	Path        string `json:"path"`
	Fingerprint string `json:"fingerprint"`
	Name        string `json:"name"`
	Version     string `json:"version"`
	Root        string `json:"root,omitempty"`
	Signed      bool   `json:"signed,omitempty"`
	// Doc follows the header line in a cache file, as it is: decoding it
	// as a JSON value would scan it once more than the catalog does.
	Doc json.RawMessage `json:"-"`
	rev *catalog.Revision
}

// Set is the package paths being served. It is safe for concurrent use.
type Set struct {
	cfg Config
	log *slog.Logger
	cur atomic.Pointer[Source]

	mu    sync.Mutex // one scan at a time; guards known, old and sink
	known map[string]*entry
	// old is the cache found at start (during Open's scan only); sink is
	// where a scan records what it read (a new pack during Open, the
	// pack appended to during a watcher's rescan), nil without a cache.
	old  *oldPack
	sink *packWriter
	// docs is the cache file the catalog's documents are read back from
	// (packdocs.go); nil without a cache folder.
	docs *docFile
	// Stats of the last scan, for logs and tests.
	lastLoaded, lastReused int
}

// Open scans the paths once. Any package that does not load is an error
// (EPR refuses to start).
func Open(ctx context.Context, cfg Config) (*Set, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	abs := make([]string, len(cfg.Paths))
	for i, p := range cfg.Paths {
		a, err := asWritten(p)
		if err != nil {
			return nil, fmt.Errorf("package path %s: %w", p, err)
		}
		abs[i] = a
	}
	cfg.Paths = abs
	s := &Set{cfg: cfg, log: cfg.Logger, known: map[string]*entry{}}
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("package path cache: %w", err)
		}
		pruneCacheDir(cfg.CacheDir)
		old, err := openPack(cfg.CacheDir)
		if err != nil {
			// Only a miss: every package is read again.
			s.log.Warn("package path cache unreadable; reading every package", "err", err)
			old = &oldPack{recs: map[string]packRec{}}
		}
		defer old.close()
		s.old = old
		s.docs = &docFile{log: s.log}
	}
	_, err := s.Rescan(ctx, true)
	if w := s.sink; w != nil {
		switch {
		case w.appended >= 0:
			if aerr := w.end(); aerr != nil {
				s.log.Warn("package path cache not appended to", "err", aerr)
			}
		case err != nil:
			w.discard()
		default:
			if cerr := w.commit(cfg.CacheDir); cerr != nil {
				s.log.Warn("package path cache not written", "err", cerr)
			}
		}
	}
	s.old, s.sink = nil, nil
	if err != nil {
		return nil, err
	}
	if s.docs != nil {
		s.docs.open(filepath.Join(cfg.CacheDir, packName))
	}
	return s, nil
}

// startPack chooses where Open's scan records what it reads: when the old
// pack holds exactly a whole record of every candidate as it is now (a
// restart over unchanged folders), the pack is only appended to (a
// record that turns out unusable is superseded by the package's, read
// again); otherwise a new pack is written beside it and replaces it.
func (s *Set) startPack(cands []candidate, fps []string, opts string) {
	covered := !s.old.torn && s.old.records == len(cands)
	for i := 0; covered && i < len(cands); i++ {
		rec, ok := s.old.recs[cands[i].path]
		covered = ok && rec.e.Fingerprint == fps[i] && rec.e.Options == opts
	}
	var (
		w   *packWriter
		err error
	)
	if covered {
		w, err = appendPack(s.cfg.CacheDir)
	} else {
		w, err = newPack(s.cfg.CacheDir)
	}
	if err != nil {
		s.log.Warn("package path cache not written", "err", err)
		return
	}
	s.sink = w
}

// Current returns the packages being served.
func (s *Set) Current() *Source { return s.cur.Load() }

// Paths returns the package paths, absolute.
func (s *Set) Paths() []string { return s.cfg.Paths }

// LastScan returns how many packages the last scan that changed something
// read from their files and how many it took from memory or the cache.
func (s *Set) LastScan() (loaded, reused int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastLoaded, s.lastReused
}

// Rescan walks the paths again and loads what is new or changed. strict
// makes any package that fails to load an error; otherwise it is logged
// and left out (a watcher keeps serving what it can). It reports whether
// the set of packages changed.
func (s *Set) Rescan(ctx context.Context, strict bool) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := time.Now()
	if s.old == nil && s.cfg.CacheDir != "" {
		// A watcher's rescan appends what it reads to the pack.
		w, err := appendPack(s.cfg.CacheDir)
		if err != nil {
			s.log.Warn("package path cache not appended to", "err", err)
		} else {
			s.sink = w
			defer func() {
				if err := w.end(); err != nil {
					s.log.Warn("package path cache not appended to", "err", err)
				}
				s.sink = nil
			}()
		}
	}
	cands, err := walk(ctx, s.cfg.Paths, func(msg, p string) { s.log.Debug(msg, "file.path", p) })
	if err != nil {
		return false, err
	}
	next := make([]*entry, len(cands))
	errs := make([]error, len(cands))
	var loaded, fromCache atomic.Int64
	opts := s.cfg.Options.key()
	// Each candidate: fingerprint, then memory, then the cache folder,
	// then its files; in parallel (stat, small reads, zip reading).
	workers := s.cfg.Workers
	if workers <= 0 {
		// Twice the cores: a worker waiting on a read, a page fault or the
		// cache pack's lock leaves its core to another (a first start over
		// 1,918 zips: 0.26-0.28x EPR's wall with GOMAXPROCS workers,
		// 0.25-0.265x with twice as many; docs/benchmarks.md).
		workers = 2 * runtime.GOMAXPROCS(0)
	}
	parsers := make([]*catalog.Parser, workers)
	docBufs := make([]bytes.Buffer, workers) // each worker's document, reused
	for w := range parsers {
		parsers[w] = catalog.NewParser()
	}
	// Fingerprints first (stat calls only): Open's scan chooses from them
	// whether the cache is written again.
	fps := make([]string, len(cands))
	signed := make([]bool, len(cands))
	parallel(ctx, len(cands), workers, func(_, i int) {
		fps[i], signed[i], errs[i] = fingerprint(cands[i])
	})
	if s.old != nil && ctx.Err() == nil {
		s.startPack(cands, fps, opts)
	}
	var notZips atomic.Int64
	parallel(ctx, len(cands), workers, func(w, i int) {
		c := cands[i]
		pr := parsers[w]
		fp := fps[i]
		if errs[i] != nil {
			return
		}
		if e, ok := s.known[c.path]; ok && e.Fingerprint == fp {
			next[i] = e
			return
		}
		if e, at := s.readCached(pr, c, fp, opts); e != nil {
			if s.sink != nil && s.sink.appended < 0 {
				at.place(s.sink.add(e, e.Doc))
			}
			e.Doc = nil
			next[i] = e
			fromCache.Add(1)
			return
		}
		l, err := load(c, s.cfg.Options, signed[i], &docBufs[w])
		if errors.Is(err, errNotZip) {
			// EPR skips a .zip that is not a zip, with a warning.
			s.log.Warn("ignoring invalid zip file", "file.path", c.path, "err", err)
			notZips.Add(1)
			return
		}
		if err != nil {
			errs[i] = err
			return
		}
		e := &entry{Options: opts, Path: c.path, Fingerprint: fp, Name: l.ID.Name, Version: l.ID.Version, Root: l.Root, Signed: l.Signed, Doc: l.Doc}
		var at *docAt
		if e.rev, at, err = s.revision(pr, c, l.ID, l.Doc, l); err != nil {
			errs[i] = err
			return
		}
		if s.sink != nil {
			at.place(s.sink.add(e, e.Doc))
		}
		e.Doc = nil
		next[i] = e
		loaded.Add(1)
	})
	if err := ctx.Err(); err != nil {
		return false, err
	}
	changed := s.cur.Load() == nil || len(s.known) != len(cands)-int(notZips.Load())
	known := make(map[string]*entry, len(cands))
	for i, c := range cands {
		if errs[i] != nil {
			err := fmt.Errorf("loading package failed (path: %s): %w", c.path, errs[i])
			if strict {
				return false, err
			}
			s.log.Error("package path: package does not load; leaving it out", "err", err)
			changed = true
			continue
		}
		if next[i] == nil {
			continue // not a zip
		}
		if s.known[c.path] != next[i] {
			changed = true
		}
		known[c.path] = next[i]
	}
	if !changed {
		return false, nil
	}
	src, err := s.build(cands, known, strict)
	if err != nil {
		return false, err
	}
	s.known = known
	s.lastLoaded, s.lastReused = int(loaded.Load()), len(known)-int(loaded.Load())
	s.cur.Store(src)
	s.log.Info("package paths loaded", "packages", src.Len(), "read", loaded.Load(), "from_cache", fromCache.Load(), "took", time.Since(start))
	return true, nil
}

// parallel calls fn(w, 0) … fn(w, n-1) on workers goroutines (w is the
// goroutine's number) and returns when all have returned or ctx is done.
func parallel(ctx context.Context, n, workers int, fn func(w, i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(w, i)
			}
		}()
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
}

// build makes the source of the scanned entries, in candidate order; the
// first of a NAME-VERSION wins.
func (s *Set) build(cands []candidate, known map[string]*entry, strict bool) (*Source, error) {
	src := &Source{byRev: map[*catalog.Revision]*Package{}, byID: map[packageid.ID]*Package{}}
	bld := catalog.NewBuilder("", len(cands))
	for _, c := range cands {
		e, ok := known[c.path]
		if !ok {
			continue
		}
		id := packageid.ID{Name: e.Name, Version: e.Version}
		if first, dup := src.byID[id]; dup {
			s.log.Debug("duplicated package", "package.name", id.Name, "package.version", id.Version, "package.path", c.path)
			if first.Zip != (c.kind == kindZip) {
				// Served from the first, but searched in its own
				// indexer too, as EPR searches each (catalog.Builder.Add).
				if want := indexerOf(c.kind); e.rev.Indexer() != want {
					e.rev.SetIndexer(want)
				}
				bld.Add(e.rev)
			}
			continue
		}
		if s.cfg.RequireSignatures && !e.Signed {
			err := fmt.Errorf("loading package failed (path: %s): package %s is missing a required signature file", c.path, id)
			if strict {
				return nil, err
			}
			s.log.Error("package path: package left out", "err", err)
			continue
		}
		// EPR's zip and folder indexers are two indexers of its
		// combined one: /search runs in each (catalog.Revision.SetIndexer).
		// A path is always the same kind, so a revision already served
		// holds its value and is never written again.
		if want := indexerOf(c.kind); e.rev.Indexer() != want {
			e.rev.SetIndexer(want)
		}
		p := &Package{ID: id, Path: c.path, Zip: c.kind == kindZip, Root: e.Root, Rev: e.rev}
		if e.Signed {
			p.SigPath = sigPath(c)
		}
		bld.Add(e.rev)
		src.byRev[e.rev] = p
		src.byID[id] = p
	}
	cat, err := bld.Finish()
	if err != nil {
		return nil, err
	}
	src.cat = cat
	return src, nil
}

// readCached returns the cached entry of path, with its document and
// revision, when it was built from the same files with the same options;
// nil otherwise (a damaged record is only a miss: the package is read
// again).
func (s *Set) readCached(pr *catalog.Parser, c candidate, fp, opts string) (*entry, *docAt) {
	path := c.path
	if s.old == nil {
		return nil, nil
	}
	rec, ok := s.old.recs[path]
	if !ok || rec.e.Path != path || rec.e.Fingerprint != fp || rec.e.Options != opts {
		return nil, nil
	}
	doc, err := s.old.doc(rec)
	if err != nil {
		s.log.Warn("package path cache entry unusable; reading the package", "file.path", path, "err", err)
		return nil, nil
	}
	e := rec.e
	rev, at, err := s.revision(pr, c, packageid.ID{Name: e.Name, Version: e.Version}, doc, nil)
	if err != nil {
		s.log.Warn("package path cache entry unusable; reading the package", "file.path", path, "err", err)
		return nil, nil
	}
	// Where the old pack is appended to, not replaced, the document stays
	// where it is.
	at.place(rec.off)
	e.rev, e.Doc = rev, doc
	return &e, at
}

// revision builds the revision of a package's document: without the
// document when the scan writes it to the cache file (packdocs.go), in
// which case at says where it is once placed; with it otherwise (at nil).
// l, when the document was just built from the package's files, gives its
// decoded fields (catalog.Parser.RevisionOf: doc is not decoded again);
// nil for a document read back from the cache.
func (s *Set) revision(pr *catalog.Parser, c candidate, id packageid.ID, doc []byte, l *loaded) (*catalog.Revision, *docAt, error) {
	e := index.Entry{ID: id, Manifest: doc}
	if s.docs == nil || s.sink == nil {
		if l != nil {
			r, err := pr.RevisionOf(id, l.Fields, l.FormatVersion, doc)
			return r, nil, err
		}
		r, err := pr.Revision(e)
		return r, nil, err
	}
	at := newDocAt(s.docs, c, s.cfg.Options, doc)
	if l != nil {
		r, err := pr.RevisionOfAt(id, l.Fields, l.FormatVersion, doc, at)
		return r, at, err
	}
	r, err := pr.RevisionAt(e, at)
	return r, at, err
}

// Watch rescans every interval until ctx is done and calls onChange after
// each scan that changed the packages. A scan that fails is logged; the
// previous packages keep being served.
func (s *Set) Watch(ctx context.Context, interval time.Duration, onChange func()) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := s.Rescan(ctx, false)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("package paths rescan failed; serving the previous packages", "err", err)
			}
			continue
		}
		if changed && onChange != nil {
			onChange()
		}
	}
}

// Has reports whether NAME-VERSION is served from a package path (the
// publishing job refuses to shadow it).
func (s *Set) Has(id packageid.ID) (string, bool) {
	p, ok := s.Current().Lookup(id)
	if !ok {
		return "", false
	}
	return p.Path, true
}

// DefaultCacheDir is the cache folder's name inside a data folder.
const DefaultCacheDir = "package-paths-cache"

// asWritten makes p absolute without cleaning it: EPR hands each package
// path to the operating system as written, so "x/../p" needs x to exist
// and "link/" follows a link to a folder where "link" (a walk does not
// enter links) finds nothing. filepath.Abs would clean both away.
func asWritten(p string) (string, error) {
	if filepath.IsAbs(p) {
		return p, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return wd + string(filepath.Separator) + p, nil
}

// The catalog indexers of package path revisions, after the store's (0).
const (
	indexerZips    = 1
	indexerFolders = 2
)

func indexerOf(k kind) uint8 {
	if k == kindZip {
		return indexerZips
	}
	return indexerFolders
}
