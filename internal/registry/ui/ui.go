// Package ui is the registry's web catalog at /ui/: server-rendered pages,
// working without JavaScript, to find, read and download the packages of
// the index the registry serves. It reads the same in-memory catalog as the
// EPR routes and the public bucket's static files; it never changes them.
//
// Package text (README, changelog, manifest strings) is untrusted: Markdown
// is rendered once, by the publishing job (internal/pkg/markdown: goldmark
// under a CPU and output budget, then bluemonday, then a rewrite that keeps
// only the package's own images) and stored; a page only reads it.
// Everything else is escaped by html/template.
// Every page carries a strict Content-Security-Policy with no script at all.
package ui

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/registry/catalog"
	"pkgstore/internal/storage"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Prefix is where the catalog is mounted.
const Prefix = "/ui/"

// CSP is the Content-Security-Policy of every page: nothing but the
// catalog's own style sheet and same-origin images, no script, no plugins,
// no framing, forms only to itself.
const CSP = "default-src 'self'; script-src 'none'; object-src 'none'; style-src 'self'; img-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Yank is the record of a withdrawn revision.
type Yank struct {
	Reason string
	At     time.Time
}

// YankSource reports withdrawn revisions. Optional: with none, no version
// is marked. Its answers are cached with the page, per index snapshot.
type YankSource interface {
	// Yanked returns the yanked versions of the package name, by version.
	Yanked(ctx context.Context, name string) (map[string]Yank, error)
}

// ArtifactRecord is what the store recorded about a published zip.
type ArtifactRecord struct {
	SHA256            string // hex
	SignerFingerprint string // primary key fingerprint of the verified signature
	// Published is when the store published the revision (zero when not
	// recorded): the date cards and version lists show.
	Published time.Time
}

// ArtifactSource looks up artifact records. Optional: with none, the page
// shows the zip's size only. A nil record with a nil error means nothing
// was recorded for id.
type ArtifactSource interface {
	Artifact(ctx context.Context, id packageid.ID) (*ArtifactRecord, error)
}

// LocalFiles gives the files of revisions served from elsewhere than the
// public bucket (package paths, docs/package-paths.md).
type LocalFiles interface {
	// Open opens the file rel of id; handled is false when id is not
	// one of its revisions (the public bucket has it). A missing file is
	// an error for which storage.IsNotFound is true.
	Open(id packageid.ID, rel string) (rc io.ReadCloser, size int64, handled bool, err error)
	// ZipSize returns the size of id's zip (0 when it is generated on
	// request); handled as for Open.
	ZipSize(id packageid.ID) (size int64, handled bool)
}

// HiddenRevisions holds revisions that are published but left out of the
// index (yanked ones), as the registry still serves them
// (registry.Yanked).
type HiddenRevisions interface {
	// Lookup returns the revision and the one-revision catalog that
	// renders it.
	Lookup(id packageid.ID) (*catalog.Catalog, *catalog.Revision, bool)
}

// Config of the catalog.
type Config struct {
	// Catalog returns the index snapshot to serve; called once per request.
	Catalog func() *catalog.Catalog
	// Public is the public bucket (static files and zips).
	Public    *storage.Bucket
	Yanks     YankSource     // optional
	Artifacts ArtifactSource // optional
	Local     LocalFiles     // optional
	// Hidden, optional, gives a yanked version its page (with a banner
	// saying it is yanked, why and since when) while the registry still
	// serves it; without it such a version has no page.
	Hidden HiddenRevisions
	Logger *slog.Logger
	// Internal is the internal bucket, where the publishing job stores
	// each revision's rendered README and changelog
	// (storage.RenderedKey): page views read them and never run the
	// Markdown parser. Optional: without it (and for revisions published
	// before renders were stored) the catalog renders a revision's text
	// at its first view, once, under markdown.DefaultBudget.
	Internal *storage.Bucket
	// ReadOnly keeps the catalog from storing what it renders (replicas
	// serving buckets written by others).
	ReadOnly bool
	// PublicURL is the store's URL for the Fleet snippet (serve
	// --public-url, checked by registry.ParsePublicURL). Empty: each
	// request's Host and X-Forwarded-Proto, in pages marked private that
	// vary on both, never kept in a cache another client reads.
	PublicURL string
	// PageSize is the number of packages on a page of results (default
	// 48).
	PageSize int
}

// Handler serves the catalog. It is safe for concurrent use.
type Handler struct {
	cfg    Config
	log    *slog.Logger
	tmpl   *template.Template
	cache  pageCache
	parts  partsCache
	dates  revisionFacts[time.Time]
	fields revisionFacts[string] // lower-case exported field names of the README, NUL-separated (max: maxFieldsKept)

	flights     flightGroup   // renders in progress
	renderSlots chan struct{} // renders the catalog runs at once
}

// New returns the catalog's handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Catalog == nil || cfg.Public == nil {
		return nil, fmt.Errorf("ui: a catalog and the public bucket are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("ui: parse templates: %w", err)
	}
	return &Handler{cfg: cfg, log: cfg.Logger, tmpl: t, renderSlots: make(chan struct{}, maxConcurrentRenders), fields: revisionFacts[string]{max: maxFieldsKept}}, nil
}

// Mounts reports whether the request path p belongs to the catalog.
func Mounts(p string) bool { return p == "/ui" || strings.HasPrefix(p, Prefix) }

// ServeHTTP routes /ui/ requests.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if c := path.Clean(p); p == "/ui" || c != p && c+"/" != p {
		if p == "/ui" {
			c = Prefix
		}
		u := *r.URL
		u.Path, u.RawPath = c, ""
		http.Redirect(w, r, u.String(), http.StatusMovedPermanently)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.errorPage(w, r, http.StatusMethodNotAllowed, "This page can only be read (GET or HEAD).")
		return
	}
	rest := strings.TrimPrefix(p, Prefix)
	switch {
	case rest == "":
		h.serveHome(w, r)
	case strings.HasPrefix(rest, "assets/"):
		h.serveAsset(w, r, rest)
	case strings.HasPrefix(rest, "package/"):
		segs := strings.Split(strings.TrimPrefix(rest, "package/"), "/")
		switch {
		case segs[0] == "":
			h.errorPage(w, r, http.StatusNotFound, "There is no such page.")
		case len(segs) == 2 && segs[1] == "":
			h.serveLatest(w, r, segs[0])
		case len(segs) == 3 && segs[2] == "":
			h.servePackage(w, r, segs[0], segs[1])
		case len(segs) == 1 || len(segs) == 2:
			u := *r.URL
			u.Path, u.RawPath = p+"/", ""
			http.Redirect(w, r, u.String(), http.StatusMovedPermanently)
		default:
			h.errorPage(w, r, http.StatusNotFound, "There is no such page.")
		}
	default:
		h.errorPage(w, r, http.StatusNotFound, "There is no such page.")
	}
}

// securityHeaders are set on every answer of the catalog.
func securityHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
}

// servePage answers a page from the snapshot's cache, rendering it with
// render on a miss. A page render reports as not cacheable (a bucket read
// failed) is served once and rendered again next time. Pages revalidate
// (no-cache) against an ETag naming the snapshot, so a browser gets 304
// until the index moves.
//
// A page that shows the registry's URL is rendered with urlPlaceholder and
// cached so; the URL (o.regURL) goes in per request. When it was taken
// from the request (o.reflected), the answer is private and varies on Host
// and X-Forwarded-Proto: what one client sent never reaches another's
// page, in this cache or in a shared one.
func (h *Handler) servePage(w http.ResponseWriter, r *http.Request, cat *catalog.Catalog, key string, o pageURL, render func() (status int, body []byte, cacheable bool)) {
	status, body, cacheable := h.cache.get(cat, key)
	if !cacheable {
		status, body, cacheable = render()
		if cacheable {
			h.cache.put(cat, key, status, body)
		}
	}
	if o.regURL != "" {
		body = bytes.ReplaceAll(body, []byte(urlPlaceholder), []byte(template.HTMLEscapeString(o.regURL)))
	}
	securityHeaders(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-cache")
	if o.reflected {
		hd.Set("Cache-Control", "private, no-cache")
		hd.Set("Vary", "Host, X-Forwarded-Proto")
	}
	if status == http.StatusOK && cacheable {
		f := fnv.New64a()
		f.Write([]byte(key))
		if o.regURL != "" {
			f.Write([]byte("@" + o.regURL))
		}
		etag := fmt.Sprintf(`"%s-%x"`, cat.Cursor(), f.Sum64())
		hd.Set("ETag", etag)
		if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	hd.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// pageURL is the registry URL a page shows, and whether it came from the
// request.
type pageURL struct {
	regURL    string
	reflected bool
}

// urlPlaceholder stands for the registry's URL in cached pages: letters
// and dashes only, which templates do not escape.
const urlPlaceholder = "pkgstore-registry-url-9f2c4e1b"

// render executes the named page template.
func (h *Handler) render(name string, data any) []byte {
	var buf bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		// Templates are fixed at build time and data comes from our own
		// types: a failure is a bug, not bad input.
		h.log.Error("render page", "template", name, "err", err)
		buf.Reset()
		h.tmpl.ExecuteTemplate(&buf, "error.html", errorData{Layout: Layout{Title: "Error"}, Status: 500, Message: "This page could not be rendered."})
	}
	return buf.Bytes()
}

type errorData struct {
	Layout
	Status  int
	Message string
}

func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	body := h.render("error.html", errorData{Layout: Layout{Title: http.StatusText(status)}, Status: status, Message: msg})
	securityHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// serveAsset serves the embedded style sheet and icons. Their URLs carry
// no version, so they revalidate; they are tiny.
func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request, rest string) {
	data, err := fs.ReadFile(assetFS, rest)
	if err != nil {
		h.errorPage(w, r, http.StatusNotFound, "There is no such file.")
		return
	}
	securityHeaders(w)
	hd := w.Header()
	switch path.Ext(rest) {
	case ".css":
		hd.Set("Content-Type", "text/css; charset=utf-8")
	case ".svg":
		hd.Set("Content-Type", "image/svg+xml")
	}
	hd.Set("Cache-Control", "public, max-age=3600")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// pageCache keeps rendered pages of one index snapshot; the first request
// after a reload sees another catalog and starts a fresh cache, which is
// the invalidation.
type pageCache struct {
	mu        sync.Mutex
	cat       *catalog.Catalog
	pages     map[string]cachedPage
	bytes     int
	summaries map[*catalog.Revision]*summary // of cat; kept when pages start over
}

type cachedPage struct {
	status int
	body   []byte
}

// Bounds of one snapshot's cache; when full it starts over (hot pages come
// back at once).
const (
	maxCachedPages = 2048
	maxCachedBytes = 128 << 20
)

func (c *pageCache) get(cat *catalog.Catalog, key string) (int, []byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cat != cat {
		return 0, nil, false
	}
	p, ok := c.pages[key]
	return p.status, p.body, ok
}

func (c *pageCache) put(cat *catalog.Catalog, key string, status int, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.switchTo(cat)
	if len(c.pages) >= maxCachedPages || c.bytes+len(body) > maxCachedBytes {
		c.pages, c.bytes = map[string]cachedPage{}, 0
	}
	c.pages[key] = cachedPage{status, body}
	c.bytes += len(body)
}

// switchTo starts over when cat is another snapshot; c.mu is held.
func (c *pageCache) switchTo(cat *catalog.Catalog) {
	if c.cat != cat {
		c.cat, c.pages, c.bytes, c.summaries = cat, map[string]cachedPage{}, 0, map[*catalog.Revision]*summary{}
	}
}

// summary returns the home-page summary of rev in cat, decoding it once
// per snapshot (one per package name at most: the home page lists latest
// revisions).
func (c *pageCache) summary(cat *catalog.Catalog, rev *catalog.Revision) (*summary, error) {
	c.mu.Lock()
	if c.cat == cat {
		if s, ok := c.summaries[rev]; ok {
			c.mu.Unlock()
			return s, nil
		}
	}
	c.mu.Unlock()
	bp, err := cat.Base(rev)
	if err != nil {
		return nil, err
	}
	s := newSummary(rev, bp)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.switchTo(cat)
	c.summaries[rev] = s
	return s, nil
}
