package catalog

import (
	"bytes"
	"fmt"
	"slices"
	"sort"

	"pkgstore/internal/pkg/packagedoc"
)

// Hit is one revision of a search result.
type Hit struct {
	Rev *Revision
	// TemplatesOnly is set when the revision matched the category filter
	// only through policy templates: its /search form then keeps only the
	// templates whose categories literally contain the category (§2.5).
	TemplatesOnly string
}

// Search applies f as EPR does (epr-api.md §2.3, §2.4) and returns the hits
// sorted by name, then version.
func (c *Catalog) Search(f Filter) ([]Hit, error) {
	groups := c.indexers()
	var hits []Hit
	for _, g := range groups {
		var revs []*Revision
		var err error
		if f.Experimental {
			revs = legacy(f, g)
		} else if revs, err = normal(f, g); err != nil {
			return nil, err
		}
		hits = appendCategory(hits, revs, f.Category)
	}
	if len(groups) > 1 && !f.All {
		hits = newestAcross(hits)
	}
	if c.all != nil {
		// A copy another indexer found is served as the first one.
		for i := range hits {
			hits[i].Rev = c.byID[hits[i].Rev.ID]
		}
		if f.All {
			hits = onceEach(hits)
		}
	}
	sort.SliceStable(hits, func(i, j int) bool {
		a, b := hits[i].Rev, hits[j].Rev
		if a.ID.Name != b.ID.Name {
			return a.ID.Name < b.ID.Name
		}
		return a.version.LessThan(b.version)
	})
	return hits, nil
}

// appendCategory appends the hits of revs for category (every one when
// category is empty).
func appendCategory(hits []Hit, revs []*Revision, category string) []Hit {
	for _, r := range revs {
		if category == "" || hasCategory(r.categories, category) {
			hits = append(hits, Hit{Rev: r})
			continue
		}
		for _, t := range r.templates {
			if hasCategory(t.categories, category) {
				hits = append(hits, Hit{Rev: r, TemplatesOnly: category})
				break
			}
		}
	}
	return hits
}

// newestAcross keeps the newest version of each name: EPR's combined
// indexer over its indexers' answers (latestPackagesVersion).
func newestAcross(hits []Hit) []Hit {
	at := map[string]int{}
	out := hits[:0]
	for _, h := range hits {
		i, ok := at[h.Rev.ID.Name]
		if !ok {
			at[h.Rev.ID.Name] = len(out)
			out = append(out, h)
			continue
		}
		if h.Rev.version.GreaterThan(out[i].Rev.version) {
			out[i] = h
		}
	}
	return out
}

// onceEach keeps the first hit of each revision.
func onceEach(hits []Hit) []Hit {
	seen := make(map[*Revision]bool, len(hits))
	out := hits[:0]
	for _, h := range hits {
		if !seen[h.Rev] {
			seen[h.Rev] = true
			out = append(out, h)
		}
	}
	return out
}

// indexers returns the catalog's revisions split by indexer, each in
// index order (one group when every revision is in the same indexer).
func (c *Catalog) indexers() [][]*Revision {
	if c.groups != nil {
		return c.groups
	}
	return [][]*Revision{c.revs}
}

// normal is the filter of §2.3 steps 1-10 over one indexer's revisions
// (the category step is applied by Search, after latest selection).
func normal(f Filter, revs []*Revision) ([]*Revision, error) {
	var out []*Revision
	latest := map[string]int{}
	for _, r := range revs {
		if !f.Prerelease && (r.release == "experimental" || r.prerelease) {
			continue
		}
		if !common(f, r) {
			continue
		}
		if f.AgentVersion != nil && r.agent != nil && !r.agent.Check(f.AgentVersion) {
			continue
		}
		if f.Capabilities != nil && len(r.caps) > 0 && !allIn(r.caps, f.Capabilities) {
			continue
		}
		if !matchesDiscovery(f.Discovery, r) {
			continue
		}
		if f.SpecMin != nil || f.SpecMax != nil {
			if r.spec == nil {
				return nil, fmt.Errorf("package %s has no format_version", r.ID)
			}
			if f.SpecMin != nil && r.spec.LessThan(f.SpecMin) || f.SpecMax != nil && r.spec.GreaterThan(f.SpecMax) {
				continue
			}
		}
		out = keep(out, latest, r, f.All, func(old, new *Revision) bool { return new.version.GreaterThan(old.version) })
	}
	return out, nil
}

// common are the checks both paths share: kibana.version, package, version
// and type.
func common(f Filter, r *Revision) bool {
	if f.KibanaVersion != nil && r.kibana != nil && !r.kibana.Check(f.KibanaVersion) {
		return false
	}
	if f.Package != "" && r.ID.Name != f.Package {
		return false
	}
	if f.Version != "" && r.ID.Version != f.Version {
		return false
	}
	if f.Type != "" && r.typ != f.Type {
		return false
	}
	return true
}

// keep adds r to out, or with latest selection replaces the kept revision of
// the same name when newer says so.
func keep(out []*Revision, latest map[string]int, r *Revision, all bool, newer func(old, new *Revision) bool) []*Revision {
	if all {
		return append(out, r)
	}
	if i, ok := latest[r.ID.Name]; ok {
		if newer(out[i], r) {
			out[i] = r
		}
		return out
	}
	latest[r.ID.Name] = len(out)
	return append(out, r)
}

// legacyPrerelease is the old definition of a preview: a prerelease tag or
// major version 0. EPR 1.40.1 uses it only to drop previews from
// experimental=true&all=true; its latest selection prefers a version
// without a prerelease tag (0.x included).
func legacyPrerelease(r *Revision) bool { return r.prerelease || r.major0 }

// legacy is the experimental=true path (§2.4) over one indexer's
// revisions. The latest version of a name is the highest without a
// prerelease tag, else the highest: 0.2.5 beats 0.3.0-rc1, and 0.9.0 beats
// 1.0.0-rc1 (measured against the reference: TestLegacyLatest).
func legacy(f Filter, revs []*Revision) []*Revision {
	var out []*Revision
	latest := map[string]int{}
	hasStable := map[string]bool{}
	for _, r := range revs {
		if !common(f, r) {
			continue
		}
		if !legacyPrerelease(r) {
			hasStable[r.ID.Name] = true
		}
		out = keep(out, latest, r, f.All, func(old, new *Revision) bool {
			op, np := old.prerelease, new.prerelease
			if op != np {
				return op
			}
			return new.version.GreaterThan(old.version)
		})
	}
	if f.All {
		out = slices.DeleteFunc(out, func(r *Revision) bool {
			return hasStable[r.ID.Name] && legacyPrerelease(r)
		})
	}
	return out
}

func allIn(need, have []string) bool {
	for _, n := range need {
		if !slices.Contains(have, n) {
			return false
		}
	}
	return true
}

func matchesDiscovery(fs []DiscoveryFilter, r *Revision) bool {
	for _, d := range fs {
		if !d.matches(r) {
			return false
		}
	}
	return true
}

// hasCategory reports whether list holds cat or a direct subcategory of it.
func hasCategory(list []string, cat string) bool {
	for _, c := range list {
		if c == cat {
			return true
		}
		if pc, ok := packagedoc.LookupCategory(c); ok && pc.ParentID == cat {
			return true
		}
	}
	return false
}

// SearchJSON renders Search's hits as the /search body: a 2-space indented
// array of BasePackage objects with a trailing newline, or the two bytes
// "[]" when empty (EPR's quirk).
func (c *Catalog) SearchJSON(f Filter) ([]byte, error) {
	hits, err := c.Search(f)
	if err != nil {
		return nil, err
	}
	if len(hits) == 0 {
		return []byte("[]"), nil
	}
	size := 4
	for _, h := range hits {
		size += len(c.baseBytes(h.Rev)) + 4
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	buf.WriteString("[\n")
	for i, h := range hits {
		if i > 0 {
			buf.WriteString(",\n")
		}
		buf.WriteString("  ")
		b := c.baseBytes(h.Rev)
		if h.TemplatesOnly != "" {
			if b, err = rewriteBase(b, func(bp *packagedoc.BasePackage) {
				bp.BasePolicyTemplates = slices.DeleteFunc(bp.BasePolicyTemplates, func(t packagedoc.BasePolicyTemplate) bool {
					return !slices.Contains(t.Categories, h.TemplatesOnly)
				})
			}); err != nil {
				return nil, fmt.Errorf("package %s: %w", h.Rev.ID, err)
			}
		}
		buf.Write(b)
	}
	buf.WriteString("\n]\n")
	return buf.Bytes(), nil
}

// CategoryCount is one item of the /categories answer.
type CategoryCount struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Count       int    `json:"count"`
	ParentID    string `json:"parent_id,omitempty"`
	ParentTitle string `json:"parent_title,omitempty"`
}

// Categories counts the categories of the latest matching revisions
// (epr-api.md §2.8), sorted by id.
func (c *Catalog) Categories(q CategoriesQuery) ([]CategoryCount, error) {
	f := q.Filter
	f.All, f.Category, f.Package, f.Type, f.Version = false, "", "", "", ""
	hits, err := c.Search(f)
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, h := range hits {
		r := h.Rev
		for _, cat := range r.categories {
			counts[cat]++
		}
		if !q.IncludePolicyTemplates {
			continue
		}
		if len(r.templates) == 1 && len(r.templates[0].categories) == 0 {
			continue
		}
		counted := map[string]bool{}
		for _, t := range r.templates {
			for _, cat := range r.categories {
				counts[cat]++
			}
			for _, tc := range t.categories {
				counts[tc]++
				if !hasCategory(r.categories, tc) && !counted[tc] {
					counts[tc]++
					counted[tc] = true
				}
			}
		}
	}
	out := make([]CategoryCount, 0, len(counts))
	for id, n := range counts {
		cc := CategoryCount{ID: id, Title: id, Count: n}
		if cat, ok := packagedoc.LookupCategory(id); ok {
			cc.Title, cc.ParentID, cc.ParentTitle = cat.Title, cat.ParentID, cat.ParentTitle
		}
		out = append(out, cc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// CategoriesJSON renders Categories as the /categories body.
func (c *Catalog) CategoriesJSON(q CategoriesQuery) ([]byte, error) {
	cats, err := c.Categories(q)
	if err != nil {
		return nil, err
	}
	return packagedoc.Marshal(cats)
}
