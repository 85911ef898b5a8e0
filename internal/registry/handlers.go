package registry

import (
	"bytes"
	_ "embed"
	"fmt"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"pkgstore/internal/pkg/mediatype"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/registry/catalog"
	"pkgstore/internal/registry/httpenc"
	"pkgstore/internal/registry/pkgpath"
	"pkgstore/internal/storage"
)

//go:embed favicon.ico
var favicon []byte

var (
	// artifactRe is the file part of /epr/{x}/{name}-{version}.zip(.sig):
	// the name stops at the first '-', the version runs to the extension.
	artifactRe = regexp.MustCompile(`^([a-z0-9_]+)-([^/]+?)\.zip(\.sig)?$`)
)

// fixedRoutes are the routes without variables; with StrictSlash a trailing
// slash redirects to them.
var fixedRoutes = map[string]bool{"/index.json": true, "/search": true, "/categories": true, "/health": true, "/favicon.ico": true}

// ServeHTTP routes a request as EPR's router does (epr-api.md §1.1): no
// method restriction, cleaned paths, strict-slash redirects, a plain 404 for
// unknown paths.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	p := req.URL.Path
	if p == "" {
		p = "/"
	}
	if c := cleanPath(p); c != p {
		cleanRedirect(w, req, c)
		return
	}
	switch p {
	case "/", "/index.json":
		r.cors(w)
		r.serveJSON(w, req, r.index, r.ccIndex)
		return
	case "/search":
		r.cors(w)
		r.serveSearch(w, req)
		return
	case "/categories":
		r.cors(w)
		r.serveCategories(w, req)
		return
	case "/health":
		r.cors(w)
		r.serveHealth(w, req)
		return
	case "/favicon.ico":
		r.cors(w)
		setCache(w, r.cfg.CacheTimes.CatchAll)
		w.Header().Set("Content-Type", "image/x-icon")
		http.ServeContent(w, req, "", time.Time{}, bytes.NewReader(favicon))
		return
	}
	// A matched route whose trailing slash differs from its template
	// (StrictSlash) is redirected by the route itself, so CORS applies.
	if t, ok := strings.CutSuffix(p, "/"); ok && fixedRoutes[t] {
		r.cors(w)
		redirect(w, req, t)
		return
	}
	var buf [8]string // no allocation for every route but deep static paths
	segs := splitPath(p[1:], buf[:0])
	switch {
	case segs[0] == "epr" && len(segs) == 3:
		if m := artifactRe.FindStringSubmatch(segs[2]); m != nil {
			r.cors(w)
			r.serveArtifact(w, req, m[1], m[2], m[3] != "")
			return
		}
	case segs[0] == "epr" && len(segs) == 4 && segs[3] == "":
		if artifactRe.MatchString(segs[2]) {
			r.cors(w)
			redirect(w, req, strings.TrimSuffix(p, "/"))
			return
		}
	case segs[0] == "package" && len(segs) == 3 && segs[2] != "" && packageid.IsName(segs[1]):
		r.cors(w)
		redirect(w, req, p+"/")
		return
	case segs[0] == "package" && len(segs) == 4 && segs[3] == "" && packageid.IsName(segs[1]):
		r.cors(w)
		r.servePackageIndex(w, req, segs[1], segs[2])
		return
	case segs[0] == "package" && len(segs) >= 4:
		r.cors(w)
		// The static route's template has no trailing slash.
		if strings.HasSuffix(p, "/") {
			redirect(w, req, strings.TrimSuffix(p, "/"))
			return
		}
		r.serveStatic(w, req, segs[1], segs[2], strings.Join(segs[3:], "/"))
		return
	}
	notFound(w, "404 page not found")
}

// splitPath is strings.Split(p, "/") appended to segs.
func splitPath(p string, segs []string) []string {
	for {
		i := strings.IndexByte(p, '/')
		if i < 0 {
			return append(segs, p)
		}
		segs = append(segs, p[:i])
		p = p[i+1:]
	}
}

// cleanPath is gorilla/mux's path cleaning: path.Clean keeping a trailing
// slash.
func cleanPath(p string) string {
	if isClean(p) {
		return p
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// isClean reports whether cleanPath would return p unchanged: p is rooted
// and has no empty, "." or ".." segment except a trailing empty one. It
// saves path.Clean's copy on every request.
func isClean(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 1; i < len(p); {
		j := strings.IndexByte(p[i:], '/')
		seg := p[i:]
		if j >= 0 {
			seg = p[i : i+j]
		}
		switch {
		case seg == "." || seg == "..":
			return false
		case seg == "" && j >= 0: // "//"
			return false
		}
		if j < 0 {
			break
		}
		i += j + 1
	}
	return true
}

// cleanRedirect is gorilla/mux's answer to an unclean path: before any
// route (so no CORS), a bare 301 with Location and no body.
func cleanRedirect(w http.ResponseWriter, req *http.Request, p string) {
	u := *req.URL
	u.Path = p
	u.RawPath = ""
	w.Header().Set("Location", u.String())
	w.WriteHeader(http.StatusMovedPermanently)
}

// redirect is a route's strict-slash redirect (http.Redirect: a short HTML
// body).
func redirect(w http.ResponseWriter, req *http.Request, p string) {
	u := *req.URL
	u.Path = p
	u.RawPath = ""
	http.Redirect(w, req, u.String(), http.StatusMovedPermanently)
}

func (r *Registry) cors(w http.ResponseWriter) {
	w.Header()["Access-Control-Allow-Origin"] = anyOrigin
}

// setCache writes EPR's two Cache-Control lines.
func setCache(w http.ResponseWriter, d time.Duration) {
	w.Header()["Cache-Control"] = cacheControl(d)
}

// cacheControl renders EPR's two Cache-Control lines for max-age d.
func cacheControl(d time.Duration) []string {
	return []string{fmt.Sprintf("max-age=%.0f", d.Seconds()), "public"}
}

// anyOrigin is EPR's CORS value, shared by every answer (len == cap).
var anyOrigin = []string{"*"}

// jsonType is shared by every JSON answer (len == cap: an append copies).
var jsonType = []string{"application/json"}

// noStore writes the error variant of the cache headers.
func noStore(w http.ResponseWriter) {
	w.Header()["Cache-Control"] = []string{"max-age=0", "private, no-store"}
}

func notFound(w http.ResponseWriter, msg string) {
	noStore(w)
	http.Error(w, msg, http.StatusNotFound)
}

func badRequest(w http.ResponseWriter, msg string) {
	noStore(w)
	http.Error(w, msg, http.StatusBadRequest)
}

func internalError(w http.ResponseWriter) {
	http.Error(w, "internal server error", http.StatusInternalServerError)
}

// serveJSON writes a JSON body negotiated by httpenc; cc is a
// pre-rendered Cache-Control value, shared and never modified.
func (r *Registry) serveJSON(w http.ResponseWriter, req *http.Request, body *httpenc.Body, cc []string) {
	h := w.Header()
	h["Cache-Control"] = cc
	h["Content-Type"] = jsonType
	body.Serve(w, req)
}

// serveRendered serves a freshly rendered body too large to cache as it
// always was: uncompressed, without validators.
func (r *Registry) serveRendered(w http.ResponseWriter, body []byte, cc []string) {
	h := w.Header()
	h["Cache-Control"] = cc
	h["Content-Type"] = jsonType
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

func (r *Registry) serveSearch(w http.ResponseWriter, req *http.Request) {
	snap := r.current()
	key := req.URL.RawQuery
	if body, ok := snap.search.get(key); ok {
		r.serveJSON(w, req, body, r.ccSearch)
		return
	}
	f, err := catalog.ParseSearch(req.URL.Query(), r.cfg.AllowUnknownQueryParams)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	raw, err := snap.cat.SearchJSON(f)
	if err != nil {
		notFound(w, "fetching package failed: "+err.Error())
		return
	}
	if !cacheable(len(raw)) {
		r.serveRendered(w, raw, r.ccSearch)
		return
	}
	r.serveJSON(w, req, snap.admit(snap.search, "s"+key, key, raw), r.ccSearch)
}

func (r *Registry) serveCategories(w http.ResponseWriter, req *http.Request) {
	snap := r.current()
	key := req.URL.RawQuery
	if body, ok := snap.cats.get(key); ok {
		r.serveJSON(w, req, body, r.ccCategories)
		return
	}
	q, err := catalog.ParseCategories(req.URL.Query(), r.cfg.AllowUnknownQueryParams)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	raw, err := snap.cat.CategoriesJSON(q)
	if err != nil {
		notFound(w, err.Error())
		return
	}
	if !cacheable(len(raw)) {
		r.serveRendered(w, raw, r.ccCategories)
		return
	}
	r.serveJSON(w, req, snap.admit(snap.cats, "c"+key, key, raw), r.ccCategories)
}

// admit wraps a fresh rendering of the query key: on the query's second
// request in this snapshot (seenKey tells /search from /categories), a
// body compressed at the best levels and kept in cache; on its first, a
// body compressed at the fast levels (only in the coding asked for) that
// is served once and dropped.
func (s *snapshot) admit(cache *bodyCache[string], seenKey, key string, raw []byte) *httpenc.Body {
	if !s.seen.again(seenKey) {
		return httpenc.NewEffort(raw, httpenc.Fast)
	}
	body := httpenc.New(raw)
	cache.put(key, body)
	return body
}

// lookup finds name-version for the single-package routes; it answers the
// error itself and returns nil when there is nothing to serve.
//
// The package-path package serving the revision, if any, comes with it.
func (r *Registry) lookup(w http.ResponseWriter, name, version, notFoundMsg string) (*catalog.Revision, *pkgpath.Package) {
	if !packageid.IsStrictSemver(version) {
		badRequest(w, "invalid package version")
		return nil, nil
	}
	snap := r.current()
	_, rev, ok := r.find(snap, packageid.ID{Name: name, Version: version})
	if !ok {
		notFound(w, notFoundMsg)
		return nil, nil
	}
	return rev, snap.local.Package(rev)
}

// find looks id up in the index, then among the hidden revisions.
func (r *Registry) find(snap *snapshot, id packageid.ID) (*catalog.Catalog, *catalog.Revision, bool) {
	if rev, ok := snap.cat.Lookup(id); ok {
		return snap.cat, rev, true
	}
	if r.cfg.Hidden != nil {
		return r.cfg.Hidden.Lookup(id)
	}
	return nil, nil, false
}

func (r *Registry) servePackageIndex(w http.ResponseWriter, req *http.Request, name, version string) {
	snap := r.current()
	if !packageid.IsStrictSemver(version) {
		badRequest(w, "invalid package version")
		return
	}
	cat, rev, ok := r.find(snap, packageid.ID{Name: name, Version: version})
	if !ok {
		notFound(w, "package revision not found")
		return
	}
	// Revisions of this snapshot's catalog are cached with it; hidden
	// (yanked) ones come from a store that changes on its own.
	cached := cat == snap.cat
	if cached {
		if body, ok := snap.docs.get(rev); ok {
			r.serveJSON(w, req, body, r.ccIndex)
			return
		}
	}
	doc, err := cat.Document(rev)
	if err != nil {
		r.log.Error("package document", "package", rev.ID.String(), "err", err)
		internalError(w)
		return
	}
	if !cached || !cacheable(len(doc)) {
		r.serveRendered(w, doc, r.ccIndex)
		return
	}
	body := httpenc.New(doc)
	snap.docs.put(rev, body)
	r.serveJSON(w, req, body, r.ccIndex)
}

func (r *Registry) serveArtifact(w http.ResponseWriter, req *http.Request, name, version string, sig bool) {
	msg := "artifact not found"
	if sig {
		msg = "signature file not found"
	}
	rev, local := r.lookup(w, name, version, msg)
	if rev == nil {
		return
	}
	// Public cache headers before the bucket read, as EPR does (trap §1.2).
	setCache(w, r.cfg.CacheTimes.CatchAll)
	if local != nil {
		r.serveLocalArtifact(w, req, local, sig)
		return
	}
	if sig {
		// EPR leaves .sig to the OS MIME table; its Docker image (mailcap)
		// says application/pgp-signature, which is what Fleet sees.
		r.serveBlob(w, req, storage.SignatureKey(rev.ID), "application/pgp-signature", msg)
		return
	}
	r.serveBlob(w, req, storage.ZipKey(rev.ID), "application/zip", msg)
}

func (r *Registry) serveStatic(w http.ResponseWriter, req *http.Request, name, version, rel string) {
	rev, local := r.lookup(w, name, version, "package revision not found")
	if rev == nil {
		return
	}
	setCache(w, r.cfg.CacheTimes.CatchAll)
	if rel == "" {
		http.Error(w, "resource not found", http.StatusNotFound)
		return
	}
	// Package files are untrusted: an SVG or HTML file opened directly
	// would otherwise run its script in the registry's origin. The policy
	// changes nothing for Fleet, which fetches READMEs and shows images
	// with <img> (where SVG script never runs).
	w.Header().Set("Content-Security-Policy", StaticCSP)
	if local != nil {
		r.serveLocalStatic(w, req, local, rel)
		return
	}
	r.serveBlob(w, req, storage.StaticKey(rev.ID, rel), mediatype.ByExtension(rel), "resource not found")
}

// StaticCSP is the Content-Security-Policy of every static package file:
// nothing may load or run, and the document gets an opaque origin.
const StaticCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; sandbox"

// serveBlob streams a public-bucket object with Range, conditional
// requests (ETag, If-Modified-Since) and HEAD support. Objects are
// immutable once published, so size and modification time make a strong
// validator.
func (r *Registry) serveBlob(w http.ResponseWriter, req *http.Request, key, ctype, notFoundMsg string) {
	rd, err := r.buckets.Public.NewReader(req.Context(), key)
	if err != nil {
		if storage.IsNotFound(err) {
			http.Error(w, notFoundMsg, http.StatusNotFound)
			return
		}
		r.log.Error("read public bucket", "key", key, "err", err)
		internalError(w)
		return
	}
	defer rd.Close()
	h := w.Header()
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	mt := rd.ModTime()
	h.Set("ETag", fmt.Sprintf(`"%x-%x"`, rd.Size(), mt.UnixNano()))
	http.ServeContent(w, req, "", mt, rd)
}
