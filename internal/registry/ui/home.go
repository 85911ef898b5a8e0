package ui

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"

	"pkgstore/internal/pkg/markdown"
	"pkgstore/internal/pkg/packagedoc"
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
	return v.Encode()
}

// with returns the home URL of q with one filter changed.
func (q homeQuery) with(k, val string) string {
	switch k {
	case "category":
		q.Category = val
	case "type":
		q.Type = val
	}
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
	q := homeQuery{Q: get("q"), Category: get("category"), Type: get("type"), Kibana: get("kibana")}
	switch get("prerelease") {
	case "on", "true", "1":
		q.Prerelease = true
	}
	return q
}

// packageTypes are the types the filter offers.
var packageTypes = []string{"integration", "input", "content"}

// Card is one package of the home page.
type Card struct {
	Name, Title, Description, Version string
	Icon                              string // URL, own static file or the placeholder
	Labels                            []Label
	URL                               string
}

// CategoryOption is one entry of the category filter.
type CategoryOption struct {
	ID, Title string
	Count     int
	Selected  bool
	URL       string
	Sub       bool // a subcategory
}

// TypeOption is one entry of the type filter.
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
	Cards      []Card
	Total      int // packages in the index (latest revisions)
}

func (h *Handler) serveHome(w http.ResponseWriter, r *http.Request) {
	cat := h.cfg.Catalog()
	q := parseHome(r.URL.Query())
	h.servePage(w, r, cat, "home?"+q.key(), func() (int, []byte, bool) {
		status, d := h.home(cat, q)
		return status, h.render("home.html", d), status != http.StatusInternalServerError
	})
}

// home builds the home page: the latest revision of each package passing
// the type, Kibana and prerelease filters (EPR's /search rules, as Fleet
// would list them), narrowed by the text and the category.
func (h *Handler) home(cat *catalog.Catalog, q homeQuery) (int, homeData) {
	d := homeData{Layout: Layout{Title: "Packages", Query: q.Q}, Q: q}
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
	var matches []*summary
	for _, hit := range hits {
		sm, err := h.cache.summary(cat, hit.Rev)
		if err != nil {
			h.log.Error("home", "err", err)
			continue
		}
		if needle != "" && !strings.Contains(sm.text, needle) {
			continue
		}
		for _, c := range sm.cats {
			counts[c]++
		}
		matches = append(matches, sm)
	}
	for _, m := range matches {
		if q.Category != "" && !inCategory(m.cats, q.Category) {
			continue
		}
		d.Cards = append(d.Cards, m.card)
	}
	sort.SliceStable(d.Cards, func(i, j int) bool {
		return strings.ToLower(d.Cards[i].Title) < strings.ToLower(d.Cards[j].Title)
	})
	d.Categories = categoryOptions(counts, q)
	d.AllURL = q.with("category", "")
	return status, d
}

// summary is what the home page needs of a revision, built once per
// snapshot: its card, its categories and the lower-case text searched.
type summary struct {
	card Card
	cats []string
	text string
}

func newSummary(rev *catalog.Revision, bp *packagedoc.BasePackage) *summary {
	return &summary{
		card: card(rev, bp),
		cats: packageCategories(bp),
		text: strings.ToLower(bp.Name + "\x00" + str(bp.Title) + "\x00" + bp.Description),
	}
}

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

// categoryOptions lists top-level categories by title, each followed by
// its subcategories. A selected category with no match stays listed (with
// 0) so that it can be cleared.
func categoryOptions(counts map[string]int, q homeQuery) []CategoryOption {
	if q.Category != "" {
		if _, ok := counts[q.Category]; !ok {
			counts[q.Category] = 0
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
