package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"pkgstore/internal/govern/tokens"
	"pkgstore/internal/pkg/packagedoc"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/publish/index"
	"pkgstore/internal/registry/catalog"
	"pkgstore/internal/registry/httpenc"
	"pkgstore/internal/registry/pkgpath"
	"pkgstore/internal/storage"
)

// EPR's default cache times (epr-api.md §5.1).
const (
	DefaultCacheTimeIndex      = 10 * time.Second
	DefaultCacheTimeSearch     = 10 * time.Minute
	DefaultCacheTimeCategories = 10 * time.Minute
	DefaultCacheTimeCatchAll   = 10 * time.Minute
	// DefaultWatchInterval is how often Watch polls cursor.json.
	DefaultWatchInterval = 5 * time.Second
	// DefaultServiceName is reported by / and /index.json.
	DefaultServiceName = "package-registry"
	// ServiceVersion is the EPR version whose API this registry follows.
	ServiceVersion = "1.40.1"
)

// CacheTimes are the max-age values of the Cache-Control headers; zero
// means EPR's default.
type CacheTimes struct {
	Index      time.Duration // /, /index.json, /package/N/V/
	Search     time.Duration
	Categories time.Duration
	CatchAll   time.Duration // artifacts, signatures, static files, favicon
}

// Config configures a Registry.
type Config struct {
	Buckets    *storage.Buckets
	CacheTimes CacheTimes
	// AllowUnknownQueryParams accepts unknown /search and /categories
	// parameters silently (EPR's default); false answers 400.
	AllowUnknownQueryParams bool
	// ServiceName is reported by /; empty means "package-registry".
	ServiceName string
	// Build describes the running program (version, revision) for
	// /health?verbose=true; / keeps reporting EPR's service.version.
	Build  string
	Logger *slog.Logger
	// WatchInterval is used by AddFlags only; Watch takes its interval as
	// an argument.
	WatchInterval time.Duration
	// PublicURL is the store's address as its clients reach it (serve
	// --public-url), for what the store prints of itself: the catalog's
	// Fleet snippet. Empty: the catalog takes it from each request's Host
	// and X-Forwarded-Proto, in pages marked private and varying on them.
	PublicURL string
	// Hidden, if set, serves published revisions the index leaves out
	// (yanked ones) on the single-package routes, so that whatever is
	// pinned to them keeps working. It is reloaded with every new index.
	Hidden Hidden
	// Local, if set, serves EPR's package_paths beside the store: its
	// packages are merged after the store's (the store wins a duplicate
	// NAME-VERSION, as EPR's storage indexer comes first), and served from
	// their folders. LocalChanged swaps in what its watcher found.
	Local *pkgpath.Set
	// IndexKeyring, if set, makes every new cursor pass its signed index
	// statement first (serve --index-keyring, trust.go); OnIndexRefused
	// counts the cursors refused, by kind.
	IndexKeyring   *signature.Keyring
	OnIndexRefused func(kind string)
}

// Hidden holds revisions that are published but not in the index.
type Hidden interface {
	Reload(ctx context.Context) error
	// Lookup returns the revision and the catalog that renders it.
	Lookup(id packageid.ID) (*catalog.Catalog, *catalog.Revision, bool)
}

// Registry serves the EPR API. It is safe for concurrent use.
type Registry struct {
	cfg     Config
	buckets *storage.Buckets
	log     *slog.Logger
	index   *httpenc.Body // body of / and /index.json
	// Cache-Control values of the JSON routes, rendered once.
	ccIndex, ccSearch, ccCategories []string

	snap atomic.Pointer[snapshot] // nil until the first successful Reload
	// checked is when a Reload last succeeded (UnixNano), for /health.
	checked atomic.Int64
	// internalDown and publicDown say why a bucket is unreachable: set
	// when reading cursor.json (Reload) or the public probe (Probe) fails,
	// cleared by the next success. /health answers 503 while either is set.
	internalDown, publicDown, internalProbe atomic.Pointer[string]
	// loadErr is why the last Reload failed (the reason /health gives
	// before the first load).
	loadErr atomic.Pointer[string]
	// tokens reports the publishing tokens' state for /health (nil: none).
	tokens atomic.Pointer[func() tokens.Health]
	// upstream reports proxy mode's upstream for /health (nil: none).
	upstream atomic.Pointer[func() UpstreamHealth]

	reloadMu sync.Mutex  // one reload at a time; waiters coalesce onto it
	trust    *indexTrust // nil without Config.IndexKeyring
	// snapCache is the last index snapshot served (trustapi.go).
	snapCache atomic.Pointer[snapshotCache]
}

// snapshot is one catalog plus the caches derived from it; swapped as a
// whole so that a request sees one index from start to end.
type snapshot struct {
	cat      *catalog.Catalog // what is served: store then package paths
	store    *catalog.Catalog // the store's index alone (deltas apply to it)
	local    *pkgpath.Source  // the package paths' packages, or nil
	loadedAt time.Time
	search   *bodyCache[string] // by raw query
	cats     *bodyCache[string]
	docs     *bodyCache[*catalog.Revision]
	// seen admits queries into search and cats on their second request.
	seen *doorkeeper
}

func newSnapshot(c *catalog.Catalog) *snapshot {
	return &snapshot{cat: c, store: c, loadedAt: time.Now(), search: newBodyCache[string](searchCacheSize), cats: newBodyCache[string](searchCacheSize), docs: newBodyCache[*catalog.Revision](docCacheSize), seen: newDoorkeeper()}
}

// ParsePublicURL checks a --public-url: an absolute http or https URL with a
// host, no credentials, query or fragment; the path, if any, is where the
// store is mounted. It returns the URL without a trailing slash.
func ParsePublicURL(s string) (string, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "", fmt.Errorf("--public-url %q: %w", s, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("--public-url %q: want an http:// or https:// URL", s)
	case u.Host == "" || u.Hostname() == "":
		return "", fmt.Errorf("--public-url %q: no host", s)
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", fmt.Errorf("--public-url %q: no credentials, query or fragment", s)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// New returns a registry; it answers 503 on /health and serves an empty
// index until Reload succeeds once.
func New(cfg Config) (*Registry, error) {
	if cfg.Buckets == nil || cfg.Buckets.Public == nil || cfg.Buckets.Internal == nil {
		return nil, errors.New("registry: both buckets are required")
	}
	ct := &cfg.CacheTimes
	for _, d := range []struct {
		p   *time.Duration
		def time.Duration
	}{{&ct.Index, DefaultCacheTimeIndex}, {&ct.Search, DefaultCacheTimeSearch}, {&ct.Categories, DefaultCacheTimeCategories}, {&ct.CatchAll, DefaultCacheTimeCatchAll}} {
		if *d.p == 0 {
			*d.p = d.def
		}
		if *d.p < 0 {
			return nil, fmt.Errorf("registry: cache time must be greater than 0s")
		}
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = DefaultServiceName
	}
	if cfg.PublicURL != "" {
		u, err := ParsePublicURL(cfg.PublicURL)
		if err != nil {
			return nil, err
		}
		cfg.PublicURL = u
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Registry{cfg: cfg, buckets: cfg.Buckets, log: cfg.Logger}
	if cfg.IndexKeyring != nil {
		r.trust = &indexTrust{kr: cfg.IndexKeyring, onRefused: cfg.OnIndexRefused, now: time.Now}
	}
	body, err := packagedoc.Marshal(map[string]string{"service.name": cfg.ServiceName, "service.version": ServiceVersion})
	if err != nil {
		return nil, err
	}
	r.index = httpenc.New(body)
	r.ccIndex = cacheControl(cfg.CacheTimes.Index)
	r.ccSearch = cacheControl(cfg.CacheTimes.Search)
	r.ccCategories = cacheControl(cfg.CacheTimes.Categories)
	return r, nil
}

// Ready reports whether an index (possibly empty: no cursor yet) has been
// loaded; /health answers 503 until then.
func (r *Registry) Ready() bool { return r.snap.Load() != nil }

// current returns the snapshot to serve from (an empty one before the first
// load, so that handlers need no nil checks).
func (r *Registry) current() *snapshot {
	if s := r.snap.Load(); s != nil {
		return s
	}
	return emptySnapshot
}

var emptySnapshot = newSnapshot(catalog.Empty())

// Catalog returns the catalog being served (empty before the first load);
// other readers of the index (the web catalog) use it so that they show
// exactly what the EPR routes answer.
func (r *Registry) Catalog() *catalog.Catalog { return r.current().cat }

// Reload reads cursor.json and, if it moved, applies deltas or loads the
// full index, then swaps the catalog in one step. Concurrent calls
// coalesce: a caller that waited for a running reload returns its outcome
// for free when the cursor has not moved since.
func (r *Registry) Reload(ctx context.Context) error {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	cur := r.snap.Load()
	base := catalog.Empty()
	if cur != nil {
		base = cur.store
	}
	start := time.Now()
	// Reading cursor.json is also the internal bucket's health probe: it
	// runs on the watch interval, never per /health request.
	latest, err := index.ReadCursor(ctx, r.buckets.Internal)
	if errors.Is(err, index.ErrNoCursor) {
		latest, err = "", nil
	}
	if err != nil {
		if ctx.Err() == nil {
			r.internalDown.Store(ptr("internal bucket: " + err.Error()))
			r.loadErr.Store(ptr("internal bucket: " + err.Error()))
		}
		return fmt.Errorf("reload index: %w", err)
	}
	r.internalDown.Store(nil)
	var next *catalog.Catalog
	if r.trust != nil {
		next, err = r.trustedUpdate(ctx, base, latest)
	} else {
		next, err = catalog.UpdateTo(ctx, r.buckets.Internal, base, latest)
	}
	if err != nil {
		if ctx.Err() == nil {
			r.loadErr.Store(ptr("index: " + err.Error()))
		}
		return fmt.Errorf("reload index: %w", err)
	}
	r.checked.Store(time.Now().UnixNano())
	if cur != nil && next == cur.store && cur.local == r.localSource() {
		return nil
	}
	if r.cfg.Hidden != nil {
		// Before the swap: a revision the new index drops is served as
		// hidden from the first request that misses it.
		if err := r.cfg.Hidden.Reload(ctx); err != nil {
			if ctx.Err() == nil {
				r.loadErr.Store(ptr("hidden revisions: " + err.Error()))
			}
			return fmt.Errorf("reload hidden revisions: %w", err)
		}
	}
	snap, err := r.combine(next)
	if err != nil {
		r.loadErr.Store(ptr("package paths: " + err.Error()))
		return fmt.Errorf("reload index: %w", err)
	}
	r.loadErr.Store(nil)
	r.snap.Store(snap)
	if next != base || cur == nil {
		r.log.Info("index loaded", "cursor", next.Cursor(), "revisions", next.Len(), "took", time.Since(start), "from", next.Source())
		if src := next.Source(); strings.HasPrefix(src, "index (snapshot unusable") || strings.HasPrefix(src, "index (snapshot unreadable") {
			r.log.Warn("catalog snapshot not used; parsed the JSON index", "cursor", next.Cursor(), "why", src)
		}
	}
	return nil
}

// localSource returns the package paths' current packages, or nil.
func (r *Registry) localSource() *pkgpath.Source {
	if r.cfg.Local == nil {
		return nil
	}
	return r.cfg.Local.Current()
}

// combine returns the snapshot serving store followed by the package
// paths' current packages.
func (r *Registry) combine(store *catalog.Catalog) (*snapshot, error) {
	local := r.localSource()
	if local == nil {
		return newSnapshot(store), nil
	}
	cat, err := catalog.Merge(store.Cursor(), store, local.Catalog())
	if err != nil {
		return nil, err
	}
	s := newSnapshot(cat)
	s.store, s.local = store, local
	return s, nil
}

// LocalChanged serves the package paths' current packages with the store's
// index already loaded (their watcher calls it). Before the first Reload
// it does nothing: that Reload takes them in.
func (r *Registry) LocalChanged() error {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	cur := r.snap.Load()
	if cur == nil || cur.local == r.localSource() {
		return nil
	}
	snap, err := r.combine(cur.store)
	if err != nil {
		return fmt.Errorf("package paths: %w", err)
	}
	r.snap.Store(snap)
	r.log.Info("package paths changed", "revisions", snap.cat.Len(), "from_package_paths", snap.local.Len())
	return nil
}

// Watch calls Reload every interval until ctx is done. Errors are logged
// and the previous index keeps being served.
func (r *Registry) Watch(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := r.Reload(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("index reload failed; serving the previous index, /health answers 503 while a bucket is unreachable", "err", err)
		}
		r.Probe(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probePrefix is the prefix Probe lists: it never holds an object, so a
// reachable bucket answers with an empty listing (one request), and one
// that does not exist (S3's NoSuchBucket, where every object read answers
// "not found", as an empty store would) or cannot be read fails it.
const probePrefix = "pkgstore-health-probe/"

// Probe checks that both buckets answer (one listing of an empty prefix
// each; Watch calls it on every interval, /health never does): while one
// fails, /health answers 503 with the error.
func (r *Registry) Probe(ctx context.Context) {
	for _, p := range []struct {
		name string
		b    *storage.Bucket
		down *atomic.Pointer[string]
	}{{"public", r.buckets.Public, &r.publicDown}, {"internal", r.buckets.Internal, &r.internalProbe}} {
		_, _, err := p.b.ListLevel(ctx, probePrefix)
		switch {
		case err == nil:
			if p.down.Swap(nil) != nil {
				r.log.Info(p.name + " bucket reachable again")
			}
		case ctx.Err() == nil:
			if p.down.Swap(ptr(p.name+" bucket: "+err.Error())) == nil {
				r.log.Error(p.name+" bucket unreachable: /health answers 503 until it answers again", "err", err)
			}
		}
	}
}

func ptr(s string) *string { return &s }

// Has reports whether the current index holds NAME-VERSION (proxy mode asks
// before falling back to its upstream).
func (r *Registry) Has(id packageid.ID) bool {
	_, ok := r.current().cat.Lookup(id)
	return ok
}

// Serves reports whether the single-package routes (/package/N/V/, the
// zip, its signature, static files) answer for id from this store: listed
// in the index, or published and hidden from it (yanked).
func (r *Registry) Serves(id packageid.ID) bool {
	if r.Has(id) {
		return true
	}
	if r.cfg.Hidden == nil {
		return false
	}
	_, _, ok := r.cfg.Hidden.Lookup(id)
	return ok
}

// PublicURL is the checked --public-url ("" when not given).
func (r *Registry) PublicURL() string { return r.cfg.PublicURL }

// HiddenRevisions returns the published revisions the index leaves out
// (Config.Hidden), or nil: the catalog shows a yanked version's page from
// it.
func (r *Registry) HiddenRevisions() Hidden { return r.cfg.Hidden }

// CacheTimesInUse are the max-age values this registry answers with.
func (r *Registry) CacheTimesInUse() CacheTimes { return r.cfg.CacheTimes }
