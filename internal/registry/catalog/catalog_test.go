package catalog

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/publish/index"
)

func doc(name, version string, extra string) index.Entry {
	m := fmt.Sprintf(`{"name":%q,"version":%q,"description":"d","type":"integration","download":"x","path":"y","format_version":"3.0.0"%s}`, name, version, extra)
	return index.Entry{ID: packageid.ID{Name: name, Version: version}, Manifest: json.RawMessage(m)}
}

func build(t *testing.T, entries ...index.Entry) *Catalog {
	t.Helper()
	b := NewBuilder("1", len(entries))
	for _, e := range entries {
		r, err := NewRevision(e)
		if err != nil {
			t.Fatal(err)
		}
		b.Add(r)
	}
	c, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCategoriesCounting pins the include_policy_templates rule of
// epr-api.md §2.8 with its own example.
func TestCategoriesCounting(t *testing.T) {
	c := build(t, doc("a", "1.0.0", `,"categories":["web"],"policy_templates":[{"name":"x","title":"","description":"","categories":["security"]},{"name":"y","title":"","description":"","categories":["other"]}]`))
	tests := []struct {
		include bool
		want    map[string]int
	}{
		{false, map[string]int{"web": 1}},
		{true, map[string]int{"web": 3, "security": 2, "other": 2}},
	}
	for _, tc := range tests {
		got, err := c.Categories(CategoriesQuery{IncludePolicyTemplates: tc.include})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]int{}
		for _, cc := range got {
			m[cc.ID] = cc.Count
		}
		if fmt.Sprint(m) != fmt.Sprint(tc.want) {
			t.Errorf("include=%v: got %v, want %v", tc.include, m, tc.want)
		}
	}
}

func TestSearchRules(t *testing.T) {
	c := build(t,
		doc("p", "1.0.0", `,"categories":["web"]`),
		doc("p", "2.0.0", `,"categories":["crm"]`),
		doc("p", "3.0.0-rc1", `,"categories":["crm"]`),
		doc("q", "0.1.0", `,"release":"beta","conditions":{"kibana":{"version":"^8.0.0"}}`),
		doc("r", "1.0.0", `,"release":"experimental","deprecated":{"since":"1.0.0","description":"old"}`),
		doc("r", "0.9.0", ``),
	)
	tests := []struct {
		query string
		want  string
	}{
		{"", "p@2.0.0 q@0.1.0 r@0.9.0"},
		{"prerelease=true", "p@3.0.0-rc1 q@0.1.0 r@1.0.0"},
		{"category=web", ""},
		{"category=web&all=true", "p@1.0.0"},
		{"category=observability&all=true", "p@1.0.0"}, // web is a subcategory
		{"kibana.version=7.0.0", "p@2.0.0 r@0.9.0"},
		{"kibana.version=8.12.0-SNAPSHOT", "p@2.0.0 r@0.9.0"}, // prerelease Kibana fails ^8.0.0
		{"experimental=true", "p@2.0.0 q@0.1.0 r@1.0.0"},
		{"experimental=true&all=true", "p@1.0.0 p@2.0.0 q@0.1.0 r@1.0.0"},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			hits := searchQuery(t, c, tc.query)
			if got := hitIDs(hits); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	// Deprecation of r@1.0.0 is stamped on r@0.9.0, in base and document.
	body, _ := c.SearchJSON(Filter{Package: "r"})
	if !strings.Contains(string(body), `"since": "1.0.0"`) {
		t.Errorf("propagated notice missing from /search: %s", body)
	}
	r, _ := c.Lookup(packageid.ID{Name: "r", Version: "0.9.0"})
	d, err := c.Document(r)
	if err != nil || !strings.Contains(string(d), `"description": "old"`) || !strings.HasSuffix(string(d), "}\n") {
		t.Errorf("propagated notice missing from document: %v %s", err, d)
	}
}

func TestWithDelta(t *testing.T) {
	c := build(t, doc("a", "1.0.0", ""), doc("b", "1.0.0", ""))
	d := &index.Delta{
		Added:   []index.Entry{doc("c", "1.0.0", ""), doc("a", "1.0.0", `,"title":"ignored: present"`)},
		Updated: []index.Entry{doc("b", "1.0.0", `,"title":"new"`), doc("z", "1.0.0", "")},
		Removed: []packageid.ID{{Name: "a", Version: "1.0.0"}},
	}
	n, err := c.WithDelta("2", d)
	if err != nil {
		t.Fatal(err)
	}
	if n.Cursor() != "2" || n.Len() != 3 {
		t.Fatalf("cursor %q len %d", n.Cursor(), n.Len())
	}
	if _, ok := n.Lookup(packageid.ID{Name: "z", Version: "1.0.0"}); ok {
		t.Error("an update for an absent entry must be ignored")
	}
	b, _ := n.Lookup(packageid.ID{Name: "b", Version: "1.0.0"})
	if doc, _ := n.Document(b); !strings.Contains(string(doc), `"new"`) {
		t.Error("update did not replace b")
	}
	if c.Len() != 2 {
		t.Error("the old catalog changed")
	}
}

func TestNewRevisionRejectsWhatEPRRejects(t *testing.T) {
	for _, e := range []index.Entry{
		doc("a", "1.0", ""),
		doc("a", "1.0.0", `,"conditions":{"kibana":{"version":"not a constraint"}}`),
		{ID: packageid.ID{Name: "a", Version: "1.0.0"}, Manifest: json.RawMessage(`{"name":"a","version":"1.0.0","format_version":"x"}`)},
		{ID: packageid.ID{Name: "a", Version: "1.0.0"}, Manifest: json.RawMessage(`{"name":`)},
	} {
		if _, err := NewRevision(e); err == nil {
			t.Errorf("%s: accepted", e.Manifest)
		}
	}
}

// TestSearchPerIndexer: EPR's combined indexer searches each of its
// indexers (the store, the package paths' zips, their folders) on its own,
// latest selection and category filter included, then keeps the newest
// version of each name across them. So experimental=true's preference of
// a stable version holds within one indexer only, and a category that the
// newest revision lacks can still find an older one of another indexer.
// (Found by the generated deployments, TestEPRDeployments: a zip of
// example 1.2.0-rc1 and a folder of 1.1.0.)
func TestSearchPerIndexer(t *testing.T) {
	type rev struct {
		version string
		indexer uint8
		extra   string
	}
	for _, tc := range []struct {
		name  string
		revs  []rev
		query string
		want  string
	}{
		{"experimental: stable wins in one indexer", []rev{{"1.2.0-rc1", 1, ""}, {"1.1.0", 1, ""}}, "experimental=true", "p@1.1.0"},
		{"experimental: newest across indexers", []rev{{"1.2.0-rc1", 1, ""}, {"1.1.0", 2, ""}}, "experimental=true", "p@1.2.0-rc1"},
		{"experimental: each indexer's own stable, then newest", []rev{{"1.0.0", 1, ""}, {"1.2.0-rc1", 1, ""}, {"1.1.0", 2, ""}}, "experimental=true", "p@1.1.0"},
		{"experimental: store first", []rev{{"1.1.0", 0, ""}, {"1.2.0-rc1", 2, ""}}, "experimental=true", "p@1.2.0-rc1"},
		{"experimental all: previews dropped per indexer", []rev{{"1.1.0", 1, ""}, {"1.2.0-rc1", 1, ""}, {"1.3.0-rc1", 2, ""}}, "experimental=true&all=true", "p@1.1.0 p@1.3.0-rc1"},
		{"category per indexer", []rev{{"2.0.0", 0, `,"categories":["crm"]`}, {"1.0.0", 1, `,"categories":["web"]`}}, "category=web", "p@1.0.0"},
		{"category in one indexer", []rev{{"2.0.0", 1, `,"categories":["crm"]`}, {"1.0.0", 1, `,"categories":["web"]`}}, "category=web", ""},
		{"normal: newest across indexers", []rev{{"1.0.0", 2, ""}, {"2.0.0", 1, ""}, {"1.5.0", 0, ""}}, "", "p@2.0.0"},
		{"all: every revision", []rev{{"1.0.0", 2, ""}, {"2.0.0", 1, ""}}, "all=true", "p@1.0.0 p@2.0.0"},
		// A revision in two indexers is served from the first, but
		// each indexer searches its own copy.
		{"duplicate in a later indexer still counts there", []rev{{"1.0.0", 1, ""}, {"1.2.0-rc1", 1, ""}, {"1.2.0-rc1", 2, ""}}, "experimental=true", "p@1.2.0-rc1"},
		{"duplicate in the same indexer changes nothing", []rev{{"1.0.0", 1, ""}, {"1.2.0-rc1", 1, ""}, {"1.2.0-rc1", 1, ""}}, "experimental=true", "p@1.0.0"},
		{"duplicate listed once with all", []rev{{"1.0.0", 0, ""}, {"1.0.0", 1, ""}, {"1.0.0", 2, ""}}, "all=true", "p@1.0.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder("1", len(tc.revs))
			for _, rv := range tc.revs {
				r, err := NewRevision(doc("p", rv.version, rv.extra))
				if err != nil {
					t.Fatal(err)
				}
				r.SetIndexer(rv.indexer)
				b.Add(r)
			}
			c, err := b.Finish()
			if err != nil {
				t.Fatal(err)
			}
			hits := searchQuery(t, c, tc.query)
			for _, h := range hits {
				if first, _ := c.Lookup(h.Rev.ID); first != h.Rev {
					t.Errorf("%s: a hit is not the catalog's (first) copy", h.Rev.ID)
				}
			}
			if got := hitIDs(hits); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// searchQuery runs the /search query string q (as the handler parses it)
// against c.
func searchQuery(t *testing.T, c *Catalog, query string) []Hit {
	t.Helper()
	q, _ := url.ParseQuery(query)
	f, err := ParseSearch(q, true)
	if err != nil {
		t.Fatal(err)
	}
	hits, err := c.Search(f)
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// hitIDs lists hits as "name@version", space-separated, in order.
func hitIDs(hits []Hit) string {
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.Rev.ID.Name + "@" + h.Rev.ID.Version
	}
	return strings.Join(ids, " ")
}
