// Package proxy is EPR's proxy mode (-feature-proxy-mode -proxy-to URL):
// the local registry's answers merged with another registry's, by EPR's
// rules, and optionally a pull-through cache that publishes every revision
// the site downloads from the upstream into the local store, so that the
// site keeps working when the link drops.
//
// EPR's rules (proxymode/ and the handlers of EPR 1.40.1):
//   - /search: the same path and query are sent to the upstream; the local
//     list (already latest-per-name unless all=true) is joined with the
//     upstream's, a NAME-VERSION present locally winning; without all=true
//     only the highest version of each name is kept; sorted by name, then
//     version.
//   - /categories: the upstream's counts are added to the local ones for
//     the same id, other ids inserted; sorted by id.
//   - /package/N/V/, artifacts, signatures, static files of a revision the
//     local index lacks: GET <upstream>/package/N/V/; 200 serves the
//     upstream document, or answers 301 to <upstream>/epr/package/N-V.zip
//     (.sig) or <upstream>/package/N/V/<file>; 404 is the local 404; any
//     other answer is a 500.
//
// Where pkgstore differs from EPR, when the upstream fails (upstream.go,
// circuit.go): every upstream request is bounded by Timeout, retries
// included; MaxFails failures in a row open a circuit for FailTimeout,
// during which the upstream is not asked (then one request probes it);
// /search and /categories answer from local data with a Warning header
// (EPR: a 500 after its retries), merged with the upstream's last good
// answer by a pull-through cache (stale-if-error, with Age); a revision
// the local store lacks answers 502, or 504 on a timeout (EPR: 500).
//
// The pull-through cache (cache.go) bounds every download: signature
// first, zip size, temporary space, time, stalls, pulls at once in all and
// per client; one download per revision, cancelled when its last waiter
// leaves; least recently used eviction of the revisions it published. A
// revision the local store serves (indexed, or yanked) is never pulled.
package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"pkgstore/internal/client"
	"pkgstore/internal/client/mirror"
	"pkgstore/internal/pkg/packagedoc"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/registry"
	"pkgstore/internal/registry/catalog"
	"pkgstore/internal/storage"
)

// Local is what the proxy needs of the local registry.
type Local interface {
	http.Handler
	// Has reports whether the index lists id; Serves whether the
	// single-package routes answer for it (listed, or yanked).
	Has(packageid.ID) bool
	Serves(packageid.ID) bool
	CacheTimesInUse() registry.CacheTimes
}

// Config of a proxy.
type Config struct {
	// Upstream is the registry proxied to, e.g. https://epr.elastic.co.
	Upstream string
	Local    Local
	// HTTP talks to the upstream (default: EPR's 10 s timeout).
	HTTP *http.Client
	// Retry of upstream /search and /categories (default: EPR's 4
	// attempts, from 1 s).
	Retry client.Retry
	// Timeout bounds one upstream request, retries included (default
	// DefaultTimeout; negative: only HTTP's own timeout).
	Timeout time.Duration
	// MaxFails upstream failures in a row open the circuit for
	// FailTimeout (defaults DefaultMaxFails, DefaultFailTimeout;
	// MaxFails negative: the circuit never opens).
	MaxFails    int
	FailTimeout time.Duration
	// StaleMaxBytes bounds the last good upstream answers to /search and
	// /categories a pull-through cache keeps for stale-if-error (default
	// DefaultStaleMaxBytes; negative: none kept).
	StaleMaxBytes int64
	// Cache, when set, makes the proxy a pull-through cache.
	Cache  *Cache
	Logger *slog.Logger
}

// Cache publishes the revisions the site downloads into the local store.
// Every download is bounded: in size, time, number and disk space.
type Cache struct {
	// Keyring verifies the upstream's signatures before anything is
	// published (the store checks them again).
	Keyring *signature.Keyring
	// Publish publishes a verified zip and its signature as a legacy
	// package and returns once it is published (created reports that
	// this call published it) or refused.
	Publish func(ctx context.Context, zipName string, zip io.Reader, sig []byte) (created bool, err error)
	// TempDir holds downloads (default os.TempDir()).
	TempDir string
	// Visible bounds the wait for a published revision to be indexed
	// (default 30 s).
	Visible time.Duration

	// MaxZipSize bounds a zip (the store's largest upload; default
	// mirror.DefaultMaxZipSize). TempBytes bounds the temporary space of
	// all downloads at once (at least, and by default, MaxZipSize): each
	// reserves its Content-Length, or MaxZipSize when the upstream does
	// not say, before its first byte.
	MaxZipSize, TempBytes int64
	// PullTimeout bounds one pull in all (default DefaultPullTimeout);
	// MinRate and StallWindow cut a transfer slower than MinRate bytes a
	// second over StallWindow (mirror's defaults).
	PullTimeout time.Duration
	MinRate     int64
	StallWindow time.Duration
	// MaxPulls bounds the revisions downloaded at once, MaxPullsPerClient
	// the requests one client address may have waiting for downloads;
	// beyond them, after waiting at most BusyWait for a slot, the answer
	// is 503 with Retry-After.
	MaxPulls, MaxPullsPerClient int
	BusyWait                    time.Duration

	// MaxBytes, if positive, bounds what the revisions the cache
	// published take in the store (Footprint); beyond it the least
	// recently used of them are evicted (Evict). Revisions published
	// otherwise, and yanked ones, are never evicted. Records (the
	// internal bucket) keeps which revisions are the cache's.
	MaxBytes  int64
	Footprint func(ctx context.Context, id packageid.ID) (int64, error)
	Evict     func(ctx context.Context, id packageid.ID) error
	Records   *storage.Bucket
}

// Proxy is an http.Handler serving the local registry merged with the
// upstream.
type Proxy struct {
	cfg      Config
	upstream *url.URL
	log      *slog.Logger
	fetch    *mirror.Fetcher
	circuit  *circuit
	stale    *staleStore // nil without the pull-through cache
	answers  answers

	// The pull-through cache's state.
	ctx   context.Context // cancelled by Close
	stop  context.CancelFunc
	wg    sync.WaitGroup
	slots chan struct{} // MaxPulls
	temp  *semaphore.Weighted
	mu    sync.Mutex
	// flights by revision; perClient counts waiting requests.
	flights   map[packageid.ID]*flight
	perClient map[string]int
	// cached: the revisions the cache published; evicted: deleted, until
	// the local index drops them; evicting: being deleted.
	cached   map[packageid.ID]*entry
	evicted  map[packageid.ID]bool
	evicting map[packageid.ID]chan struct{}
	loaded   bool
}

// New returns a proxy.
func New(cfg Config) (*Proxy, error) {
	u, err := url.Parse(strings.TrimRight(cfg.Upstream, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("proxy: upstream %q must be http(s)://host[:port]", cfg.Upstream)
	}
	if cfg.Local == nil {
		return nil, errors.New("proxy: no local registry")
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Retry.Attempts == 0 {
		cfg.Retry = client.Retry{Attempts: 4, Backoff: time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxFails == 0 {
		cfg.MaxFails = DefaultMaxFails
	}
	if cfg.FailTimeout <= 0 {
		cfg.FailTimeout = DefaultFailTimeout
	}
	if cfg.StaleMaxBytes == 0 {
		cfg.StaleMaxBytes = DefaultStaleMaxBytes
	}
	p := &Proxy{cfg: cfg, upstream: u, log: cfg.Logger, circuit: newCircuit(cfg.MaxFails, cfg.FailTimeout)}
	if cfg.Cache != nil && cfg.StaleMaxBytes > 0 {
		p.stale = newStaleStore(cfg.StaleMaxBytes)
	}
	p.ctx, p.stop = context.WithCancel(context.Background())
	if c := cfg.Cache; c != nil {
		if c.Keyring == nil || c.Keyring.Len() == 0 || c.Publish == nil {
			return nil, errors.New("proxy: the pull-through cache needs a keyring and a publisher")
		}
		if c.MaxBytes > 0 && (c.Footprint == nil || c.Evict == nil || c.Records == nil) {
			return nil, errors.New("proxy: a bounded pull-through cache needs Footprint, Evict and Records")
		}
		cc := *c
		cc.withDefaults(0)
		p.cfg.Cache = &cc
		p.slots = make(chan struct{}, cc.MaxPulls)
		p.temp = semaphore.NewWeighted(cc.TempBytes)
		p.flights, p.perClient = map[packageid.ID]*flight{}, map[string]int{}
		p.cached, p.evicted, p.evicting = map[packageid.ID]*entry{}, map[packageid.ID]bool{}, map[packageid.ID]chan struct{}{}
		p.fetch = &mirror.Fetcher{Upstream: u.String(), HTTP: &http.Client{}, Keyring: cc.Keyring, Retry: client.DefaultRetry,
			MaxSize: cc.MaxZipSize, RevisionTimeout: cc.PullTimeout, MinRate: cc.MinRate, StallWindow: cc.StallWindow,
			Reserve: p.reserve, SizeFlag: "--max-upload-size"}
	}
	return p, nil
}

var (
	nameRe     = regexp.MustCompile(`^[a-z0-9_]+$`)
	artifactRe = regexp.MustCompile(`^([a-z0-9_]+)-([^/]+?)\.zip(\.sig)?$`)
)

// ServeHTTP routes as the registry does and answers what proxy mode
// changes; everything else is the local registry's.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	path := req.URL.Path
	switch path {
	case "/search":
		p.serveSearch(w, req)
		return
	case "/categories":
		p.serveCategories(w, req)
		return
	}
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var id packageid.ID
	kind := ""
	switch {
	case len(segs) == 3 && segs[0] == "epr":
		if m := artifactRe.FindStringSubmatch(segs[2]); m != nil {
			id, kind = packageid.ID{Name: m[1], Version: m[2]}, "zip"
			if m[3] != "" {
				kind = "sig"
			}
		}
	case len(segs) == 4 && segs[0] == "package" && segs[3] == "" && nameRe.MatchString(segs[1]):
		id, kind = packageid.ID{Name: segs[1], Version: segs[2]}, "index"
	case len(segs) > 4 && segs[0] == "package" || len(segs) == 4 && segs[0] == "package" && segs[3] != "":
		id, kind = packageid.ID{Name: segs[1], Version: segs[2]}, "static"
	}
	if kind == "" || !packageid.IsStrictSemver(id.Version) || !isClean(path) || p.servesLocally(id) {
		p.cfg.Local.ServeHTTP(w, req)
		return
	}
	doc, status, err := p.remotePackage(req.Context(), id)
	switch {
	case err != nil && req.Context().Err() != nil:
		return // the client left
	case err != nil:
		p.upstreamFailed(w, id, err)
		return
	case status == http.StatusNotFound:
		p.cfg.Local.ServeHTTP(w, req) // its own 404, with its message
		return
	}
	times := p.cfg.Local.CacheTimesInUse()
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if kind == "index" {
		setCache(w, times.Index)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
		w.Write(doc)
		return
	}
	if p.cfg.Cache != nil && (kind == "zip" || kind == "sig") {
		err := p.pull(req.Context(), id, clientKey(req))
		switch {
		case err == nil:
			p.cfg.Local.ServeHTTP(w, req)
			return
		case errors.Is(err, errBusy):
			p.log.Warn("proxy cache: busy", "package", id.String(), "err", err)
			w.Header().Set("Retry-After", retryAfter)
			http.Error(w, "the pull-through cache is busy; try again later", http.StatusServiceUnavailable)
			return
		case req.Context().Err() != nil:
			return // the client left
		}
		p.log.Error("proxy cache: could not keep the revision, redirecting", "package", id.String(), "err", err)
	}
	setCache(w, times.CatchAll)
	var remote string
	switch kind {
	case "zip":
		remote = "/epr/package/" + id.ZipName()
	case "sig":
		remote = "/epr/package/" + id.ZipName() + ".sig"
	default:
		remote = "/package/" + id.Name + "/" + id.Version + "/" + strings.Join(segs[3:], "/")
	}
	target := *p.upstream
	target.Path += remote
	http.Redirect(w, req, target.String(), http.StatusMovedPermanently)
}

// isClean reports whether the local registry would take p as it is (it
// answers unclean paths with its own redirect).
func isClean(p string) bool {
	return !strings.Contains(p, "//") && !strings.Contains(p, "/./") && !strings.Contains(p, "/../") && !strings.HasSuffix(p, "/..") && !strings.HasSuffix(p, "/.")
}

func setCache(w http.ResponseWriter, d time.Duration) {
	w.Header()["Cache-Control"] = []string{fmt.Sprintf("max-age=%.0f", d.Seconds()), "public"}
}

// local runs the request against the local registry, asking for the
// plain JSON the proxy merges (the registry compresses and answers 304
// when the client's headers allow it).
func (p *Proxy) local(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	plain := req.Clone(req.Context())
	plain.Header.Del("Accept-Encoding")
	plain.Header.Del("If-None-Match")
	p.cfg.Local.ServeHTTP(rec, plain)
	return rec
}

func relay(w http.ResponseWriter, rec *httptest.ResponseRecorder, body []byte) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	if body == nil {
		body = rec.Body.Bytes()
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		// The local answer's validator names the local body, not the
		// merged one: a cache holding one must not revalidate the other.
		w.Header().Del("ETag")
	}
	if len(w.Header()["Warning"]) > 0 {
		// A degraded answer (local data only, or the upstream's last good
		// answer): no cache in front may keep it and serve it once the
		// upstream is back, nor extend its life with its own
		// stale-while-revalidate or stale-if-error.
		w.Header()["Cache-Control"] = []string{"no-store"}
		w.Header().Del("ETag")
	}
	w.WriteHeader(rec.Code)
	w.Write(body)
}

type item struct {
	name, version string
	raw           json.RawMessage
}

func decodeItems(raws []json.RawMessage) ([]item, error) {
	out := make([]item, 0, len(raws))
	for _, r := range raws {
		var nv struct{ Name, Version string }
		if err := json.Unmarshal(r, &nv); err != nil {
			return nil, err
		}
		out = append(out, item{nv.Name, nv.Version, r})
	}
	return out, nil
}

func (p *Proxy) serveSearch(w http.ResponseWriter, req *http.Request) {
	rec := p.local(req)
	if rec.Code != http.StatusOK {
		relay(w, rec, nil)
		return
	}
	var remoteRaw []json.RawMessage
	if !p.remoteList(w, req, &remoteRaw) {
		if req.Context().Err() == nil {
			relay(w, rec, nil) // the site keeps working without its link
		}
		return
	}
	var localRaw []json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &localRaw); err != nil {
		p.log.Error("proxy mode: local search", "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	local, err1 := decodeItems(localRaw)
	remote, err2 := decodeItems(remoteRaw)
	if err := errors.Join(err1, err2); err != nil {
		p.log.Error("proxy mode: search failed", "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	merged := local
	for _, r := range remote {
		if id := (packageid.ID{Name: r.name, Version: r.version}); p.cfg.Local.Serves(id) && !p.cfg.Local.Has(id) {
			continue // yanked here: withdrawn from this site's searches
		}
		if !slices.ContainsFunc(merged, func(l item) bool { return l.name == r.name && sameVersion(l.version, r.version) }) {
			merged = append(merged, r)
		}
	}
	all, _ := strconv.ParseBool(req.URL.Query().Get("all"))
	if !all {
		// Highest version of each name (the first of each name once
		// sorted by name, newest first).
		slices.SortStableFunc(merged, func(a, b item) int {
			if c := strings.Compare(a.name, b.name); c != 0 {
				return c
			}
			return packageid.Compare(b.version, a.version)
		})
		merged = slices.CompactFunc(merged, func(a, b item) bool { return a.name == b.name })
	}
	slices.SortStableFunc(merged, func(a, b item) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return packageid.Compare(a.version, b.version)
	})
	if len(merged) == 0 {
		relay(w, rec, nil) // the local empty answer, as EPR writes it
		return
	}
	out := make([]json.RawMessage, len(merged))
	for i, m := range merged {
		out[i] = m.raw
	}
	body, err := packagedoc.Marshal(out)
	if err != nil {
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	relay(w, rec, body)
}

func sameVersion(a, b string) bool {
	return a == b || packageid.IsStrictSemver(a) && packageid.IsStrictSemver(b) && packageid.Compare(a, b) == 0
}

func (p *Proxy) serveCategories(w http.ResponseWriter, req *http.Request) {
	rec := p.local(req)
	if rec.Code != http.StatusOK {
		relay(w, rec, nil)
		return
	}
	var remote []catalog.CategoryCount
	if !p.remoteList(w, req, &remote) {
		if req.Context().Err() == nil {
			relay(w, rec, nil)
		}
		return
	}
	var local []catalog.CategoryCount
	if err := json.Unmarshal(rec.Body.Bytes(), &local); err != nil {
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	byID := map[string]int{}
	for i, c := range local {
		byID[c.ID] = i
	}
	for _, c := range remote {
		if i, ok := byID[c.ID]; ok {
			local[i].Count += c.Count
			continue
		}
		byID[c.ID] = len(local)
		local = append(local, c)
	}
	slices.SortFunc(local, func(a, b catalog.CategoryCount) int { return strings.Compare(a.ID, b.ID) })
	if local == nil {
		local = []catalog.CategoryCount{}
	}
	body, err := packagedoc.Marshal(local)
	if err != nil {
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	relay(w, rec, body)
}
