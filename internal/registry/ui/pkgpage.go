package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"

	"pkgstore/internal/pkg/markdown"
	"pkgstore/internal/pkg/packagedoc"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/registry/catalog"
	"pkgstore/internal/storage"
)

// renderTimeout bounds the bucket reads of one package page.
const renderTimeout = 20 * time.Second

// VersionOption is one entry of the version picker.
type VersionOption struct {
	Version   string
	URL       string
	Labels    []Label
	Current   bool
	Yanked    *Yank
	Published time.Time // zero when not recorded
}

// Image is a screenshot (or icon) that is one of the package's own files.
type Image struct {
	URL, Title    string
	Width, Height string // from the manifest's size, when it reads WxH
	Link          bool   // safe to open on its own (linkable: not SVG)
}

// Change is one changelog entry.
type Change struct {
	Description, Type, Link string
}

// Release is one version of the changelog.
type Release struct {
	Version string
	Current bool
	Changes []Change
}

// Download describes an artifact link.
type Download struct {
	ZipURL, SigURL string
	Size           int64 // -1 when unknown
	Record         *ArtifactRecord
}

type packageData struct {
	Layout
	Doc         *packagedoc.Package
	Icon        string
	Labels      []Label
	Latest      string // the latest version, when this one is not it
	LatestURL   string
	Yanked      *Yank
	Owner       string // GitHub owner, when it is a plain GitHub name
	OwnerURL    string // its GitHub page (an organisation's team page for org/team)
	Categories  []CategoryOption
	Versions    []VersionOption
	Readme      rendered
	ReadmeURL   string
	Screenshots []Image
	Changelog   []Release
	ChangelogOK bool
	Download    Download
	RegistryURL string
	// Licence is the package's own licence (source.license, an SPDX
	// name such as Elastic-2.0); empty when the manifest states none.
	Licence string
	// Subscription is the Elastic subscription the package needs
	// (conditions.elastic.subscription, else the legacy license field).
	Subscription string

	incomplete bool // a read failed: show, but do not cache
}

func (h *Handler) serveLatest(w http.ResponseWriter, r *http.Request, name string) {
	cat := h.cfg.Catalog()
	v := latestVersion(cat.Versions(name))
	if v == nil {
		h.errorPage(w, r, http.StatusNotFound, "There is no package named "+name+" in this registry.")
		return
	}
	http.Redirect(w, r, packageURL(name, v.ID.Version), http.StatusFound)
}

// latestVersion is the highest version that is not a prerelease, or the
// highest of all when every version is one.
func latestVersion(revs []*catalog.Revision) *catalog.Revision {
	var best, bestAny *catalog.Revision
	for _, r := range revs {
		if bestAny == nil || r.Version().GreaterThan(bestAny.Version()) {
			bestAny = r
		}
		if !r.Prerelease() && (best == nil || r.Version().GreaterThan(best.Version())) {
			best = r
		}
	}
	if best != nil {
		return best
	}
	return bestAny
}

func (h *Handler) servePackage(w http.ResponseWriter, r *http.Request, name, version string) {
	cat := h.cfg.Catalog()
	id := packageid.ID{Name: name, Version: version}
	docCat := cat
	rev, ok := cat.Lookup(id)
	if !ok && h.cfg.Hidden != nil {
		// A yanked version: out of the index, still served by the
		// registry to whatever is pinned to it.
		docCat, rev, ok = h.cfg.Hidden.Lookup(id)
	}
	if !ok {
		h.errorPage(w, r, http.StatusNotFound, fmt.Sprintf("There is no version %s of %s in this registry.", version, name))
		return
	}
	regURL := h.registryURL(r)
	h.servePage(w, r, cat, "package/"+rev.ID.String(), regURL, func() (int, []byte, bool) {
		// The page is shared by every later request of the snapshot: a
		// client that goes away must not cut its reads short.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), renderTimeout)
		defer cancel()
		d, err := h.packagePage(ctx, r.Context(), cat, docCat, rev, urlPlaceholder)
		if err != nil {
			h.log.Error("package page", "package", rev.ID.String(), "err", err)
			return http.StatusInternalServerError, h.render("error.html", errorData{Layout: Layout{Title: "Error"}, Status: 500, Message: "This package page could not be built."}), false
		}
		return http.StatusOK, h.render("package.html", d), !d.incomplete
	})
}

// registryURL is the address Kibana should use: --public-url, else as the
// browser reached us (Host and X-Forwarded-Proto, which any client sets:
// servePage keeps such an answer private).
func (h *Handler) registryURL(r *http.Request) pageURL {
	if h.cfg.PublicURL != "" {
		return pageURL{regURL: h.cfg.PublicURL}
	}
	return pageURL{regURL: requestURL(r), reflected: true}
}

func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	host := r.Host
	if !hostRe().MatchString(host) {
		host = "localhost:8080"
	}
	return scheme + "://" + host
}

// Compiled on first use: most processes never render a package page.
var (
	hostRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[A-Za-z0-9.\-]+(:[0-9]+)?$|^\[[0-9A-Fa-f:.]+\](:[0-9]+)?$`)
	})
	ownerRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9\-_]{0,38})(?:/[A-Za-z0-9._\-]{1,100})?$`)
	})
	sizeRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([0-9]{1,5})x([0-9]{1,5})$`) })
)

// packagePage builds the page of rev, whose document docCat holds: cat
// itself, or for a yanked revision the registry's one-revision catalog of
// it. The other versions are cat's.
func (h *Handler) packagePage(ctx, wait context.Context, cat, docCat *catalog.Catalog, rev *catalog.Revision, regURL string) (*packageData, error) {
	raw, err := docCat.Document(rev)
	if err != nil {
		return nil, err
	}
	var doc packagedoc.Package
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("decode package document: %w", err)
	}
	own := markdown.NewFiles(markdown.StaticBase(rev.ID), doc.Assets)
	title := str(doc.Title)
	if title == "" {
		title = doc.Name
	}
	d := &packageData{
		Layout:      Layout{Title: title},
		Doc:         &doc,
		Icon:        iconURL(doc.Icons, own),
		Labels:      labels(rev, doc.Version),
		RegistryURL: regURL,
	}
	if doc.Source != nil {
		d.Licence = doc.Source.License
	}
	d.Subscription = doc.License
	if c := doc.Conditions; c != nil && c.Elastic != nil && c.Elastic.Subscription != "" {
		d.Subscription = c.Elastic.Subscription
	}
	if o := doc.Owner; o != nil && ownerRe().MatchString(o.Github) {
		d.Owner, d.OwnerURL = o.Github, "https://github.com/"+o.Github
		if org, team, ok := strings.Cut(o.Github, "/"); ok {
			d.OwnerURL = "https://github.com/orgs/" + org + "/teams/" + team
		}
	}
	for _, c := range doc.Categories {
		o := CategoryOption{ID: c, Title: c, URL: homeQuery{Category: c}.with("category", c)}
		if pc, ok := packagedoc.LookupCategory(c); ok {
			o.Title = pc.Title
		}
		d.Categories = append(d.Categories, o)
	}

	var yanks map[string]Yank
	if h.cfg.Yanks != nil {
		if yanks, err = h.cfg.Yanks.Yanked(ctx, doc.Name); err != nil {
			h.log.Warn("yank records unavailable", "package", doc.Name, "err", err)
			d.incomplete = true
		}
	}
	revs := cat.Versions(doc.Name)
	sort.Slice(revs, func(i, j int) bool { return revs[i].Version().GreaterThan(revs[j].Version()) })
	listed := map[string]bool{}
	for _, v := range revs {
		listed[v.ID.Version] = true
		o := VersionOption{Version: v.ID.Version, URL: packageURL(v.ID.Name, v.ID.Version), Labels: labels(v, v.ID.Version), Current: v == rev}
		if y, ok := yanks[v.ID.Version]; ok {
			o.Yanked = &y
			if v == rev {
				d.Yanked = &y
			}
		}
		d.Versions = append(d.Versions, o)
	}
	// Yanked versions an index leaves out are still listed, marked, without
	// a page of their own.
	for ver, y := range yanks {
		if listed[ver] || !packageid.IsStrictSemver(ver) {
			continue
		}
		o := VersionOption{Version: ver, Labels: labelsFor(ver, ""), Yanked: &y}
		if ver == rev.ID.Version {
			o.Current, o.URL, o.Labels = true, packageURL(doc.Name, ver), labels(rev, ver)
			d.Yanked = o.Yanked
		} else if h.cfg.Hidden != nil {
			if _, _, ok := h.cfg.Hidden.Lookup(packageid.ID{Name: doc.Name, Version: ver}); ok {
				o.URL = packageURL(doc.Name, ver)
			}
		}
		d.Versions = append(d.Versions, o)
	}
	if d.Yanked == nil && !listed[rev.ID.Version] {
		// Hidden, but no yank record read (the record source failed or
		// is absent): still say the version is withdrawn.
		d.Yanked = &Yank{}
	}
	ids := make([]packageid.ID, len(d.Versions))
	for i, v := range d.Versions {
		ids[i] = packageid.ID{Name: doc.Name, Version: v.Version}
	}
	dates, failed := h.published(ctx, ids)
	d.incomplete = d.incomplete || failed
	for i := range d.Versions {
		d.Versions[i].Published = dates[ids[i]]
	}
	sort.SliceStable(d.Versions, func(i, j int) bool {
		a, _ := semver.NewVersion(d.Versions[i].Version)
		b, _ := semver.NewVersion(d.Versions[j].Version)
		return a.GreaterThan(b)
	})
	if l := latestVersion(revs); l != nil && l != rev {
		d.Latest, d.LatestURL = l.ID.Version, packageURL(l.ID.Name, l.ID.Version)
	}

	for i, s := range doc.Screenshots {
		u, link, ok := own.ScreenshotURL(s.Path)
		if !ok {
			continue
		}
		im := Image{URL: u, Title: s.Title, Link: link}
		if im.Title == "" {
			im.Title = fmt.Sprintf("Screenshot %d", i+1)
		}
		if m := sizeRe().FindStringSubmatch(s.Size); m != nil {
			im.Width, im.Height = m[1], m[2]
		}
		d.Screenshots = append(d.Screenshots, im)
	}
	parts := h.revisionParts(ctx, wait, rev, &doc)
	d.Readme, d.ReadmeURL, d.Changelog, d.ChangelogOK = parts.readme, parts.readmeURL, parts.changelog, parts.changelogOK
	d.incomplete = d.incomplete || parts.incomplete
	d.Download = Download{Size: parts.size}
	if strings.HasPrefix(doc.Download, "/epr/") {
		d.Download.ZipURL = doc.Download
	}
	if strings.HasPrefix(doc.SignaturePath, "/epr/") {
		d.Download.SigURL = doc.SignaturePath
	}
	if h.cfg.Artifacts != nil {
		if rec, err := h.cfg.Artifacts.Artifact(ctx, rev.ID); err != nil {
			h.log.Warn("artifact record unavailable", "package", rev.ID.String(), "err", err)
			d.incomplete = true
		} else {
			d.Download.Record = rec
		}
	}
	return d, nil
}

// parts are what a package page reads from the buckets beyond the
// package document. A published revision never changes, so they are kept
// across index snapshots: only the first page of a revision in the
// process reads them.
type parts struct {
	readme      rendered
	readmeURL   string
	changelog   []Release
	changelogOK bool
	size        int64 // zip size, -1 when unknown
	incomplete  bool  // a read failed: not kept
}

func (p *parts) bytes() int {
	n := len(p.readme.HTML) + len(p.readme.Plain)
	for _, r := range p.changelog {
		for _, c := range r.Changes {
			n += len(c.Description) + len(c.Link) + len(c.Type)
		}
	}
	return n
}

// Bounds of the parts kept; when full the cache starts over.
const (
	maxKeptParts     = 4096
	maxKeptPartBytes = 64 << 20
)

// partsCache holds parts by revision.
type partsCache struct {
	mu    sync.Mutex
	m     map[packageid.ID]*parts
	bytes int
}

func (c *partsCache) get(id packageid.ID) *parts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id]
}

func (c *partsCache) put(id packageid.ID, p *parts) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := p.bytes()
	if c.m == nil || len(c.m) >= maxKeptParts || c.bytes+n > maxKeptPartBytes {
		c.m, c.bytes = map[packageid.ID]*parts{}, 0
	}
	c.m[id] = p
	c.bytes += n
}

// revisionParts returns rev's parts, from the cache or read: its rendered
// package text (README, changelog) and its zip's size. wait is the
// request's own context: a view stops waiting for a render when its
// client leaves.
func (h *Handler) revisionParts(ctx, wait context.Context, rev *catalog.Revision, doc *packagedoc.Package) *parts {
	if p := h.parts.get(rev.ID); p != nil {
		return p
	}
	p := &parts{size: -1}
	rec, err := h.record(ctx, wait, rev.ID, doc)
	if err != nil {
		h.log.Warn("rendered package text", "package", rev.ID.String(), "err", err)
		p.incomplete = true
		if str(doc.Readme) != "" {
			p.readme = rendered{Problem: "could not be read"}
		}
	} else {
		if rec.ReadmePath != "" {
			p.readmeURL = markdown.StaticURL(markdown.StaticBase(rev.ID), rec.ReadmePath)
		}
		p.readme = fromResult(rec.Readme)
		p.changelogOK = rec.ChangelogOK
		for _, r := range rec.Changelog {
			rel := Release{Version: r.Version, Current: r.Version == rev.ID.Version}
			for _, c := range r.Changes {
				rel.Changes = append(rel.Changes, Change(c))
			}
			p.changelog = append(p.changelog, rel)
		}
		// A render cut short by a busy machine is shown, and tried again.
		p.incomplete = rec.Starved()
	}
	local := false
	if h.cfg.Local != nil {
		var size int64
		if size, local = h.cfg.Local.ZipSize(rev.ID); local {
			p.size = size
		}
	}
	if strings.HasPrefix(doc.Download, "/epr/") && !local {
		if a, err := h.cfg.Public.Attributes(ctx, storage.ZipKey(rev.ID)); err == nil {
			p.size = a.Size
		} else if !storage.IsNotFound(err) {
			p.incomplete = true
		}
	}
	if !p.incomplete {
		h.parts.put(rev.ID, p)
	}
	return p
}

// maxConcurrentRenders bounds the renders the catalog runs itself (for
// revisions published before renders were stored), in all: each is
// bounded in CPU time and memory by its budget, and so are they together.
const maxConcurrentRenders = 2

// record returns the rendered package text of id: the record the
// publishing job stored, or, for a revision published before (or by an
// older renderer), one rendered now, once for every view waiting for it,
// and stored for the next process unless the catalog is read-only.
func (h *Handler) record(ctx, wait context.Context, id packageid.ID, doc *packagedoc.Package) (*markdown.Record, error) {
	if h.cfg.Internal != nil {
		rec, err := h.storedRecord(ctx, id)
		if err == nil {
			return rec, nil
		}
		if !storage.IsNotFound(err) && !errors.Is(err, markdown.ErrFormat) {
			return nil, err
		}
	}
	readme := str(doc.Readme)
	return h.flights.do(wait, id.String()+"\x00"+readme, func(ctx context.Context) (*markdown.Record, error) {
		select {
		case h.renderSlots <- struct{}{}:
			defer func() { <-h.renderSlots }()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		read := func(ctx context.Context, rel string, limit int64) ([]byte, error) {
			return h.readStatic(ctx, id, rel, limit)
		}
		rec, err := markdown.Build(ctx, id, readme, doc.Assets, read, markdown.DefaultBudget)
		if err != nil {
			return nil, err
		}
		if h.cfg.Internal != nil && !h.cfg.ReadOnly && !rec.Starved() {
			data, err := rec.Marshal()
			if err == nil {
				err = h.cfg.Internal.WriteAll(ctx, storage.RenderedKey(id), data, &storage.WriterOptions{ContentType: "application/json"})
			}
			if err != nil {
				// Shown all the same; rendered again by the next process.
				h.log.Warn("store rendered package text", "package", id.String(), "err", err)
			} else {
				h.fields.forget(id) // searched from the record from now on
			}
		}
		return rec, nil
	})
}

// storedRecord reads the record the publishing job stored for id.
func (h *Handler) storedRecord(ctx context.Context, id packageid.ID) (*markdown.Record, error) {
	rd, err := h.cfg.Internal.NewReader(ctx, storage.RenderedKey(id))
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	data, err := io.ReadAll(io.LimitReader(rd, markdown.MaxRecordBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", storage.RenderedKey(id), err)
	}
	if len(data) > markdown.MaxRecordBytes {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", markdown.ErrFormat, storage.RenderedKey(id), markdown.MaxRecordBytes)
	}
	return markdown.UnmarshalRecord(data)
}

// readStatic reads a static file of id, refusing more than limit bytes
// (markdown.ErrTooLarge); a file that does not exist is fs.ErrNotExist.
func (h *Handler) readStatic(ctx context.Context, id packageid.ID, rel string, limit int64) ([]byte, error) {
	var (
		rd   io.ReadCloser
		size int64
	)
	handled := false
	if h.cfg.Local != nil {
		var err error
		if rd, size, handled, err = h.cfg.Local.Open(id, rel); handled && err != nil {
			return nil, err
		}
	}
	if !handled {
		br, err := h.cfg.Public.NewReader(ctx, storage.StaticKey(id, rel))
		if storage.IsNotFound(err) {
			return nil, fmt.Errorf("%w: %v", fs.ErrNotExist, err)
		}
		if err != nil {
			return nil, err
		}
		rd, size = br, br.Size()
	}
	defer rd.Close()
	if size > limit {
		return nil, markdown.ErrTooLarge
	}
	data, err := io.ReadAll(io.LimitReader(rd, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, markdown.ErrTooLarge
	}
	return data, nil
}
