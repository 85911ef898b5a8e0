package pkgpath

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/publish/index"
	"pkgstore/internal/registry/catalog"
	"pkgstore/internal/storage/atomicfile"
)

// Config configures a Set.
type Config struct {
	// Paths are the package paths in precedence order (the first path
	// wins a duplicate NAME-VERSION, zips before folders, as in EPR).
	Paths []string
	Options
	// CacheFile, if set, keeps the documents built so far, so that a
	// restart over unchanged folders reads no package again.
	CacheFile string
	// Workers bound the packages loaded at once (default GOMAXPROCS;
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

// entry is one loaded candidate, remembered across scans.
type entry struct {
	Path        string          `json:"path"`
	Fingerprint string          `json:"fingerprint"`
	Name        string          `json:"name"`
	Version     string          `json:"version"`
	Root        string          `json:"root,omitempty"`
	Signed      bool            `json:"signed,omitempty"`
	Doc         json.RawMessage `json:"doc"`
	rev         *catalog.Revision
}

// cacheFile is the cache file's content.
type cacheFile struct {
	Options string   `json:"options"`
	Entries []*entry `json:"entries"`
}

// Set is the package paths being served. It is safe for concurrent use.
type Set struct {
	cfg Config
	log *slog.Logger
	cur atomic.Pointer[Source]

	mu    sync.Mutex // one scan at a time; guards known
	known map[string]*entry
	// Stats of the last scan, for logs and tests.
	lastLoaded, lastReused int
}

// Open scans the paths once. Any package that does not load is an error
// (EPR refuses to start), as is finding none at all when requireSome.
func Open(ctx context.Context, cfg Config) (*Set, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	abs := make([]string, len(cfg.Paths))
	for i, p := range cfg.Paths {
		a, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("package path %s: %w", p, err)
		}
		abs[i] = a
	}
	cfg.Paths = abs
	s := &Set{cfg: cfg, log: cfg.Logger, known: map[string]*entry{}}
	if cfg.CacheFile != "" {
		if err := s.readCache(); err != nil {
			// A cache is only a shortcut: a damaged one costs a full
			// scan, never the start.
			s.log.Warn("package path cache unusable; reading every package", "file", cfg.CacheFile, "err", err)
			s.known = map[string]*entry{}
		}
	}
	if _, err := s.Rescan(ctx, true); err != nil {
		return nil, err
	}
	return s, nil
}

// Current returns the packages being served.
func (s *Set) Current() *Source { return s.cur.Load() }

// Paths returns the package paths, absolute.
func (s *Set) Paths() []string { return s.cfg.Paths }

// LastScan returns how many packages the last scan loaded from their files
// and how many it reused from the cache.
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
	cands, err := walk(ctx, s.cfg.Paths, func(msg, p string) { s.log.Debug(msg, "file.path", p) })
	if err != nil {
		return false, err
	}
	fps := make([]string, len(cands))
	need := make([]bool, len(cands))
	nNeed := 0
	for i, c := range cands {
		if fps[i], err = fingerprint(c); err != nil {
			if strict {
				return false, fmt.Errorf("loading package failed (path: %s): %w", c.path, err)
			}
			s.log.Error("package path: cannot read package; leaving it out", "file.path", c.path, "err", err)
			continue
		}
		if e, ok := s.known[c.path]; !ok || e.Fingerprint != fps[i] {
			need[i] = true
			nNeed++
		}
	}
	loadedPkgs, errs := loadAll(ctx, cands, need, s.cfg.Options, s.cfg.Workers)
	next := make(map[string]*entry, len(cands))
	changed := len(s.known) != len(cands)
	for i, c := range cands {
		if fps[i] == "" {
			changed = true
			continue
		}
		if !need[i] {
			next[c.path] = s.known[c.path]
			continue
		}
		changed = true
		if errs[i] != nil {
			err := fmt.Errorf("loading package failed (path: %s): %w", c.path, errs[i])
			if strict {
				return false, err
			}
			s.log.Error("package path: package does not load; leaving it out", "err", err)
			continue
		}
		l := loadedPkgs[i]
		next[c.path] = &entry{Path: c.path, Fingerprint: fps[i], Name: l.ID.Name, Version: l.ID.Version, Root: l.Root, Signed: l.Signed, Doc: l.Doc}
	}
	if !changed && s.cur.Load() != nil {
		return false, nil
	}
	src, err := s.build(cands, next, strict)
	if err != nil {
		return false, err
	}
	s.known = next
	s.lastLoaded, s.lastReused = nNeed, len(next)-nNeed
	s.cur.Store(src)
	s.log.Info("package paths loaded", "packages", src.Len(), "read", nNeed, "from_cache", len(next)-nNeed, "took", time.Since(start))
	if s.cfg.CacheFile != "" {
		if err := s.writeCache(); err != nil {
			s.log.Warn("package path cache not written", "file", s.cfg.CacheFile, "err", err)
		}
	}
	return true, nil
}

// build makes the source of the scanned entries, in candidate order; the
// first of a NAME-VERSION wins.
func (s *Set) build(cands []candidate, next map[string]*entry, strict bool) (*Source, error) {
	src := &Source{byRev: map[*catalog.Revision]*Package{}, byID: map[packageid.ID]*Package{}}
	bld := catalog.NewBuilder("", len(cands))
	for _, c := range cands {
		e, ok := next[c.path]
		if !ok {
			continue
		}
		id := packageid.ID{Name: e.Name, Version: e.Version}
		if e.rev == nil {
			rev, err := catalog.NewRevision(index.Entry{ID: id, Manifest: e.Doc})
			if err != nil {
				err = fmt.Errorf("loading package failed (path: %s): %w", c.path, err)
				if strict {
					return nil, err
				}
				s.log.Error("package path: package does not load; leaving it out", "err", err)
				delete(next, c.path)
				continue
			}
			e.rev = rev
		}
		if _, dup := src.byID[id]; dup {
			s.log.Debug("duplicated package", "package.name", id.Name, "package.version", id.Version, "package.path", c.path)
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

// maxCacheFile bounds what readCache reads: documents of a few hundred
// thousand revisions.
const maxCacheFile = 4 << 30

func (s *Set) readCache() error {
	f, err := os.Open(s.cfg.CacheFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	var cf cacheFile
	if err := json.NewDecoder(bufio.NewReader(io.LimitReader(f, maxCacheFile))).Decode(&cf); err != nil {
		return fmt.Errorf("decode %s: %w", s.cfg.CacheFile, err)
	}
	if cf.Options != s.cfg.Options.key() {
		return nil // built with other options: start over
	}
	for _, e := range cf.Entries {
		if e == nil || e.Path == "" || e.Fingerprint == "" || !json.Valid(e.Doc) {
			return fmt.Errorf("decode %s: malformed entry", s.cfg.CacheFile)
		}
		s.known[e.Path] = e
	}
	return nil
}

func (s *Set) writeCache() error {
	if err := os.MkdirAll(filepath.Dir(s.cfg.CacheFile), 0o755); err != nil {
		return err
	}
	cf := cacheFile{Options: s.cfg.Options.key()}
	for _, k := range sortedKeys(s.known) {
		cf.Entries = append(cf.Entries, s.known[k])
	}
	return atomicfile.Write(s.cfg.CacheFile, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		if err := json.NewEncoder(bw).Encode(&cf); err != nil {
			return err
		}
		return bw.Flush()
	})
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

// DefaultCacheFile is the cache file's name inside a data folder.
const DefaultCacheFile = "package-paths-cache.json"

// describe names a package for messages.
func (p *Package) describe() string {
	if p.Zip {
		return p.Path
	}
	return strings.TrimSuffix(p.Path, string(filepath.Separator)) + string(filepath.Separator)
}
