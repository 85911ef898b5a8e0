package ui

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"pkgstore/internal/pkg/markdown"
	"pkgstore/internal/pkg/packagedoc"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/registry/catalog"
)

// Layout is what every page's frame needs.
type Layout struct {
	Title string
	Query string // the search box's value
}

// homeQuery is the home page's parsed query string.
type homeQuery struct {
	Q          string
	Category   string
	Type       string
	Kibana     string
	Prerelease bool
	Sort       string // "" (relevance with a text, else name), "name" or "updated"
	Page       int    // from 1
}

// sortOrders are the orders the results can be sorted in.
var sortOrders = []string{"relevance", "name", "updated"}

// order is the sort in effect: relevance for a text search, name
// otherwise, unless one was asked for.
func (q homeQuery) order() string {
	switch {
	case q.Sort != "":
		return q.Sort
	case q.Q != "":
		return "relevance"
	}
	return "name"
}

// key is the canonical form of the query: equal filters share one cached
// page whatever the parameter order or unknown parameters.
func (q homeQuery) key() string {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("q", q.Q)
	set("category", q.Category)
	set("type", q.Type)
	set("kibana", q.Kibana)
	if q.Prerelease {
		v.Set("prerelease", "on")
	}
	set("sort", q.Sort)
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	return v.Encode()
}

// pageURL returns the home URL of q showing page n.
func (q homeQuery) pageURL(n int) string {
	q.Page = n
	if s := q.key(); s != "" {
		return Prefix + "?" + s
	}
	return Prefix
}

// with returns the home URL of q with one filter changed.
func (q homeQuery) with(k, val string) string {
	switch k {
	case "category":
		q.Category = val
	case "type":
		q.Type = val
	}
	q.Page = 0 // another filter: back to the first page
	if s := q.key(); s != "" {
		return Prefix + "?" + s
	}
	return Prefix
}

// maxQueryLen bounds the text of each parameter kept from a query.
const maxQueryLen = 200

func parseHome(v url.Values) homeQuery {
	get := func(k string) string {
		s := strings.TrimSpace(v.Get(k))
		if len(s) > maxQueryLen {
			s = s[:maxQueryLen]
		}
		return s
	}
	q := homeQuery{Q: get("q"), Category: get("category"), Type: get("type"), Kibana: get("kibana"), Sort: get("sort")}
	if !slices.Contains(sortOrders, q.Sort) || q.Sort == "relevance" && q.Q == "" {
		q.Sort = "" // unknown orders are ignored, as unknown parameters are
	}
	if n, err := strconv.Atoi(get("page")); err == nil && n > 1 && n <= maxPage {
		q.Page = n
	}
	switch get("prerelease") {
	case "on", "true", "1":
		q.Prerelease = true
	}
	return q
}

// maxPage bounds the page number kept from a query (the cache key).
const maxPage = 10000

// defaultPageSize is the number of cards on a page.
const defaultPageSize = 48

// packageTypes are the types the filter offers.
var packageTypes = []string{"integration", "input", "content"}

// Card is one package of the home page.
type Card struct {
	Name, Title, Description, Version string
	Icon                              string // URL, own static file or the placeholder
	Labels                            []Label
	URL                               string
	Published                         time.Time // zero when not recorded
}

// CategoryOption is one entry of the category filter.
type CategoryOption struct {
	ID, Title string
	Count     int
	Selected  bool
	URL       string
	Sub       bool // a subcategory
}

// Pages is the pagination of the results.
type Pages struct {
	Current, Count int
	First, Last    int // the cards shown, from 1
	PrevURL        string
	NextURL        string
}

// TypeOption is one entry of the type filter (and of the sort order).
type TypeOption struct {
	Value    string
	Selected bool
}

type homeData struct {
	Layout
	Q          homeQuery
	Error      string
	Categories []CategoryOption
	AllURL     string // the category filter cleared
	Types      []TypeOption
	Cards      []Card // of this page
	Matches    int    // cards on every page
	Total      int    // packages in the index (latest revisions)
	Sorts      []TypeOption
	Pages      Pages
	// Empty: the index holds no revision at all; the page says how to
	// publish instead of "no match", with the registry's URL.
	Empty       bool
	RegistryURL string
}

func (h *Handler) serveHome(w http.ResponseWriter, r *http.Request) {
	cat := h.cfg.Catalog()
	q := parseHome(r.URL.Query())
	var o pageURL
	if cat.Len() == 0 {
		// Only the empty store's page quotes the registry's URL.
		o = h.registryURL(r)
	}
	h.servePage(w, r, cat, "home?"+q.key(), o, func() (int, []byte, bool) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), renderTimeout)
		defer cancel()
		status, d := h.home(ctx, cat, q)
		cacheable := status != http.StatusInternalServerError && status != statusIncomplete
		if status == statusIncomplete {
			status = http.StatusOK
		}
		return status, h.render("home.html", d), cacheable
	})
}

// home builds the home page: the latest revision of each package passing
// the type, Kibana and prerelease filters (EPR's /search rules, as Fleet
// would list them), narrowed by the text and the category.
func (h *Handler) home(ctx context.Context, cat *catalog.Catalog, q homeQuery) (int, homeData) {
	d := homeData{Layout: Layout{Title: "Packages", Query: q.Q}, Q: q, Empty: cat.Len() == 0, RegistryURL: urlPlaceholder}
	status := http.StatusOK
	f := catalog.Filter{Prerelease: q.Prerelease}
	if q.Type != "" {
		if !slices.Contains(packageTypes, q.Type) {
			d.Error = "Unknown package type " + q.Type + "."
			status = http.StatusBadRequest
		} else {
			f.Type = q.Type
		}
	}
	if q.Kibana != "" {
		v, err := semver.StrictNewVersion(q.Kibana)
		if err != nil {
			d.Error = "Kibana version " + q.Kibana + " is not a version such as 8.15.0."
			status = http.StatusBadRequest
		} else {
			f.KibanaVersion = v
		}
	}
	for _, t := range packageTypes {
		d.Types = append(d.Types, TypeOption{Value: t, Selected: t == q.Type})
	}
	hits, err := cat.Search(f)
	if err != nil {
		h.log.Error("home search", "err", err)
		return http.StatusInternalServerError, d
	}
	d.Total = len(hits)
	needle := strings.ToLower(q.Q)
	counts := map[string]int{}
	type match struct {
		sm   *summary
		rank int
		id   packageid.ID
	}
	var (
		matches []match
		failed  bool
	)
	candidates := make([]match, 0, len(hits))
	var unmatched []packageid.ID
	for _, hit := range hits {
		sm, err := h.cache.summary(cat, hit.Rev)
		if err != nil {
			h.log.Error("home", "err", err)
			continue
		}
		m := match{sm, sm.rank(needle), hit.Rev.ID}
		if m.rank < 0 {
			unmatched = append(unmatched, m.id)
		}
		candidates = append(candidates, m)
	}
	if len(unmatched) > 0 {
		// The README's exported fields rank with data streams; they are
		// read (once per revision) only for what matched nothing else.
		var fields map[packageid.ID]string
		fields, failed = h.fieldNames(ctx, unmatched)
		for i, m := range candidates {
			if m.rank < 0 && fieldMatch(fields[m.id], needle) {
				candidates[i].rank = rankStreams
			}
		}
	}
	for _, m := range candidates {
		sm, rank := m.sm, m.rank
		if rank < 0 {
			continue
		}
		for _, c := range withParents(sm.cats) {
			counts[c]++
		}
		if q.Category != "" && !inCategory(sm.cats, q.Category) {
			continue
		}
		matches = append(matches, m)
	}
	order := q.order()
	for _, o := range sortOrders {
		if o == "relevance" && q.Q == "" {
			continue
		}
		d.Sorts = append(d.Sorts, TypeOption{Value: o, Selected: o == order})
	}
	byTitle := func(a, b match) int {
		if c := strings.Compare(a.sm.title, b.sm.title); c != 0 {
			return c
		}
		return strings.Compare(a.sm.card.Name, b.sm.card.Name)
	}
	var dates map[packageid.ID]time.Time
	if order == "updated" {
		ids := make([]packageid.ID, len(matches))
		for i, m := range matches {
			ids[i] = m.id
		}
		var f bool
		dates, f = h.published(ctx, ids)
		failed = failed || f
	}
	slices.SortStableFunc(matches, func(a, b match) int {
		switch order {
		case "relevance":
			if a.rank != b.rank {
				return a.rank - b.rank
			}
		case "updated":
			if c := dates[b.id].Compare(dates[a.id]); c != 0 {
				return c // newest first; revisions without a record last
			}
		}
		return byTitle(a, b)
	})
	d.Matches = len(matches)
	size := h.pageSize()
	p := Pages{Current: max(q.Page, 1), Count: max((len(matches)+size-1)/size, 1)}
	if p.Current > p.Count {
		p.Current = p.Count
	}
	lo, hi := (p.Current-1)*size, min(p.Current*size, len(matches))
	if p.Current > 1 {
		p.PrevURL = q.pageURL(p.Current - 1)
	}
	if p.Current < p.Count {
		p.NextURL = q.pageURL(p.Current + 1)
	}
	p.First, p.Last = lo+1, hi
	d.Pages = p
	shown := matches[lo:hi]
	if dates == nil {
		ids := make([]packageid.ID, len(shown))
		for i, m := range shown {
			ids[i] = m.id
		}
		var f bool
		dates, f = h.published(ctx, ids)
		failed = failed || f
	}
	for _, m := range shown {
		c := m.sm.card
		c.Published = dates[m.id]
		d.Cards = append(d.Cards, c)
	}
	d.Categories = categoryOptions(counts, q)
	d.AllURL = q.with("category", "")
	if failed && status == http.StatusOK {
		status = statusIncomplete
	}
	return status, d
}

// statusIncomplete marks a home page built while a record could not be
// read: served as 200, not cached.
const statusIncomplete = -1

func (h *Handler) pageSize() int {
	if h.cfg.PageSize > 0 {
		return h.cfg.PageSize
	}
	return defaultPageSize
}

// summary is what the home page needs of a revision, built once per
// snapshot: its card, its categories and the lower-case texts searched,
// by rank.
type summary struct {
	card    Card
	cats    []string
	name    string // lower-case
	title   string // lower-case, for ordering and search
	desc    string // lower-case
	streams string // lower-case data stream names and titles, field names
}

func newSummary(rev *catalog.Revision, bp *packagedoc.BasePackage) *summary {
	c := card(rev, bp)
	var streams []string
	for _, ds := range bp.BaseDataStreams {
		if ds != nil {
			streams = append(streams, ds.Dataset, ds.Title)
		}
	}
	for _, t := range bp.BasePolicyTemplates {
		streams = append(streams, t.DataStreams...)
	}
	if disc := bp.Discovery; disc != nil {
		for _, f := range disc.Fields {
			streams = append(streams, f.Name)
		}
		for _, f := range disc.Datasets {
			streams = append(streams, f.Name)
		}
	}
	return &summary{
		card:    c,
		cats:    packageCategories(bp),
		name:    strings.ToLower(bp.Name),
		title:   strings.ToLower(c.Title),
		desc:    strings.ToLower(bp.Description),
		streams: strings.ToLower(strings.Join(streams, "\x00")),
	}
}

// rank places s in the results of the lower-case text needle: 0 its name
// is the text, 1 its name or title holds it, 2 its description, 3 a data
// stream or discovery field name; -1 it does not match (the README's
// exported field names, read from the store, are checked after). Every package matches an
// empty text, with rank 0.
func (s *summary) rank(needle string) int {
	switch {
	case needle == "" || s.name == needle:
		return 0
	case strings.Contains(s.name, needle) || strings.Contains(s.title, needle):
		return 1
	case strings.Contains(s.desc, needle):
		return 2
	case strings.Contains(s.streams, needle):
		return rankStreams
	}
	return -1
}

// rankStreams is the rank of a match in a data stream or a field name.
const rankStreams = 3

// packageCategories are the categories of a package and of its policy
// templates, each once.
func packageCategories(bp *packagedoc.BasePackage) []string {
	var out []string
	add := func(c string) {
		if c != "" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	for _, c := range bp.Categories {
		add(c)
	}
	for _, t := range bp.BasePolicyTemplates {
		for _, c := range t.Categories {
			add(c)
		}
	}
	return out
}

// inCategory reports whether cats holds want or one of its subcategories.
func inCategory(cats []string, want string) bool {
	for _, c := range cats {
		if c == want {
			return true
		}
		if pc, ok := packagedoc.LookupCategory(c); ok && pc.ParentID == want {
			return true
		}
	}
	return false
}

// withParents returns cats with the parent of each subcategory (EPR's
// catalogue, packagedoc.LookupCategory), each once: a package in
// "kubernetes" counts under Observability too, as filtering by a parent
// shows its subcategories' packages.
func withParents(cats []string) []string {
	out := slices.Clone(cats)
	for _, c := range cats {
		if pc, ok := packagedoc.LookupCategory(c); ok && pc.ParentID != "" && !slices.Contains(out, pc.ParentID) {
			out = append(out, pc.ParentID)
		}
	}
	return out
}

// categoryOptions lists top-level categories by title, each followed by
// its subcategories: the tree of EPR's catalogue, where a subcategory is
// always drawn under its own parent (counts, from withParents, hold the
// parent of every subcategory they hold). A selected category with no
// match stays listed (with 0) so that it can be cleared, under its
// parent.
func categoryOptions(counts map[string]int, q homeQuery) []CategoryOption {
	if q.Category != "" {
		for _, c := range withParents([]string{q.Category}) {
			if _, ok := counts[c]; !ok {
				counts[c] = 0
			}
		}
	}
	type node struct {
		CategoryOption
		parent string
	}
	var nodes []node
	for id, n := range counts {
		o := CategoryOption{ID: id, Title: id, Count: n, Selected: id == q.Category, URL: q.with("category", id)}
		parent := ""
		if c, ok := packagedoc.LookupCategory(id); ok {
			o.Title, parent = c.Title, c.ParentID
		}
		o.Sub = parent != ""
		nodes = append(nodes, node{o, parent})
	}
	titleOf := func(id string) string {
		if c, ok := packagedoc.LookupCategory(id); ok {
			return c.Title
		}
		return id
	}
	sortKey := func(n node) string {
		if n.parent != "" {
			return strings.ToLower(titleOf(n.parent)) + "\x00" + strings.ToLower(n.Title)
		}
		return strings.ToLower(n.Title)
	}
	sort.Slice(nodes, func(i, j int) bool { return sortKey(nodes[i]) < sortKey(nodes[j]) })
	out := make([]CategoryOption, len(nodes))
	for i, n := range nodes {
		out[i] = n.CategoryOption
	}
	return out
}

func card(rev *catalog.Revision, bp *packagedoc.BasePackage) Card {
	base := markdown.StaticBase(rev.ID)
	c := Card{
		Name: bp.Name, Title: str(bp.Title), Description: bp.Description, Version: bp.Version,
		Icon:   iconURL(bp.Icons, markdown.NewFiles(base, nil)),
		Labels: labels(rev, bp.Version),
		URL:    packageURL(bp.Name, bp.Version),
	}
	if c.Title == "" {
		c.Title = bp.Name
	}
	return c
}

// str reads an optional manifest string.
func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// placeholderIcon is shown for packages without an icon of their own.
const placeholderIcon = Prefix + "assets/package.svg"

// iconURL returns the first icon that is one of the package's own files.
func iconURL(icons []packagedoc.Image, own markdown.Files) string {
	for _, ic := range icons {
		if u, ok := own.ImageURL(ic.Path, ""); ok {
			return u
		}
	}
	return placeholderIcon
}

func packageURL(name, version string) string {
	return Prefix + "package/" + url.PathEscape(name) + "/" + url.PathEscape(version) + "/"
}
