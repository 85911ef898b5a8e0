package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/registry"
)

// The expectations below are derived from epr-api.md §2, §6.2 and §6.3 by
// reading the EPR test packages; they are not recorded output.

type basePkg struct {
	Name            string `json:"name"`
	Title           string `json:"title"`
	Version         string `json:"version"`
	SignaturePath   string `json:"signature_path"`
	PolicyTemplates []struct {
		Name string `json:"name"`
	} `json:"policy_templates"`
	Deprecated *struct {
		Since string `json:"since"`
	} `json:"deprecated"`
	Categories []string `json:"categories"`
}

func searchIDs(t *testing.T, base, url string) ([]string, []basePkg) {
	t.Helper()
	w := get(t, base, "GET", url, nil)
	if w.Code != 200 {
		t.Fatalf("%s: status %d: %s", url, w.Code, w.Body)
	}
	var list []basePkg
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	ids := make([]string, len(list))
	for i, p := range list {
		ids[i] = p.Name + "@" + p.Version
	}
	return ids, list
}

// strictRegistry serves f's buckets with --allow-unknown-query-parameters
// false, over loopback; the store itself runs with EPR's default (true).
func strictRegistry(t *testing.T, f *fixture) string {
	t.Helper()
	r, err := registry.New(registry.Config{Buckets: f.store.Server.Buckets, CacheTimes: testCacheTimes, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv.URL
}

// eprJSON encodes v as EPR does (epr-api.md: 2-space indent, no HTML
// escaping, trailing newline).
func eprJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func TestEPRSearch(t *testing.T) {
	r := eprStore(t).store.URL
	tests := []struct {
		url      string
		count    int      // -1: not checked
		has      []string // name@version that must be present
		hasNot   []string
		exactly  []string
		bodyText string // for empty results
	}{
		{url: "/search", count: 35, has: []string{"example@1.1.0", "multiversion@1.2.0", "integration_input@1.0.2", "dataset_is_prefix@0.0.1", "nodirentries@1.0.0"}, hasNot: []string{"traces@1.0.0", "example@1.2.0-rc1"}},
		{url: "/search?all=true", count: 43, has: []string{"example@0.0.2", "example@1.0.1", "multiversion@1.0.3"}, hasNot: []string{"example@1.2.0-rc1", "traces@1.0.0"}},
		{url: "/search?kibana.version=6.5.2", count: -1, has: []string{"example@0.0.2"}, hasNot: []string{"example@1.1.0"}},
		{url: "/search?kibana.version=8.0.0", count: -1, has: []string{"example@1.1.0"}, hasNot: []string{"example@0.0.2"}},
		// Trap §2.3 step 11: category applies after latest selection.
		{url: "/search?category=web", count: -1, hasNot: []string{"example@0.0.2"}, has: []string{"good_content@0.1.0"}},
		{url: "/search?category=web&all=true", count: -1, has: []string{"example@0.0.2", "good_content@0.1.0"}},
		// web is a subcategory of observability.
		{url: "/search?category=observability", count: -1, has: []string{"good_content@0.1.0"}},
		{url: "/search?package=example", exactly: []string{"example@1.1.0"}},
		{url: "/search?package=example&all=true", exactly: []string{"example@0.0.2", "example@1.0.0", "example@1.0.1", "example@1.1.0"}},
		// Legacy path: experimental releases in, stable beats prerelease.
		{url: "/search?experimental=true", count: -1, has: []string{"traces@1.0.0", "example@1.1.0"}, hasNot: []string{"example@1.2.0-rc1"}},
		{url: "/search?prerelease=true", count: 36, has: []string{"example@1.2.0-rc1", "traces@1.0.0"}},
		{url: "/search?category=datastore&prerelease=true", count: -1, has: []string{"example@1.2.0-rc1"}},
		{url: "/search?type=content&prerelease=true", exactly: []string{"discovery_empty@0.1.0", "good_content@0.1.0"}},
		{url: "/search?type=input&package=integration_input&prerelease=true", exactly: []string{"integration_input@1.0.2"}},
		{url: "/search?type=integration&package=integration_input&prerelease=true", exactly: []string{"integration_input@1.0.0"}},
		{url: "/search?type=input&prerelease=true", exactly: []string{"deprecated_input_package@1.0.0", "deprecated_input_policy@1.0.0", "integration_input@1.0.2", "sql_input@0.3.0"}},
		{url: "/search?capabilities=observability,security&prerelease=true", count: -1, has: []string{"example@1.2.0-rc1"}},
		{url: "/search?capabilities=none&prerelease=true", count: -1, has: []string{"example@1.1.0"}, hasNot: []string{"example@1.2.0-rc1"}},
		{url: "/search?capabilities=observability&prerelease=true", count: -1, has: []string{"example@1.1.0"}},
		// Filters before latest: 1.2.0-rc1 (format 3.0.0) is out, 1.1.0 wins.
		{url: "/search?spec.min=1.1&spec.max=2.10&prerelease=true", count: -1, has: []string{"example@1.1.0"}, hasNot: []string{"example@1.2.0-rc1", "sql_input@0.3.0"}},
		{url: "/search?spec.max=2.10&prerelease=true", count: -1, has: []string{"example@1.1.0", "sql_input@0.3.0"}, hasNot: []string{"deployment_modes@0.0.1"}},
		{url: "/search?prerelease=true&discovery=fields:process.pid", exactly: []string{"good_content@0.1.0"}},
		{url: "/search?prerelease=true&discovery=fields:non.existing.field", bodyText: "[]"},
		{url: "/search?prerelease=true&discovery=datasets:good_content.errors", exactly: []string{"good_content@0.1.0"}},
		{url: "/search?prerelease=true&discovery=datasets:good_content.errors&discovery=fields:process.pid", exactly: []string{"good_content@0.1.0"}},
		{url: "/search?prerelease=true&discovery=datasets:good_content.errors&discovery=fields:process.path", bodyText: "[]"},
		{url: "/search?package=agent_version&agent.version=9.1.0", bodyText: "[]"},
		{url: "/search?package=agent_version&agent.version=9.5.0", exactly: []string{"agent_version@1.0.0"}},
		{url: "/search?package=yamlpipeline&unknown=true", exactly: []string{"yamlpipeline@1.0.0"}},
		{url: "/search?package=multiversion&all=true", exactly: []string{"multiversion@1.0.3", "multiversion@1.0.4", "multiversion@1.1.0", "multiversion@1.2.0"}},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			if tc.bodyText != "" {
				w := get(t, r, "GET", tc.url, nil)
				if w.Code != 200 || w.Body.String() != tc.bodyText {
					t.Fatalf("got %d %q, want 200 %q", w.Code, w.Body, tc.bodyText)
				}
				return
			}
			ids, _ := searchIDs(t, r, tc.url)
			if tc.exactly != nil && !slices.Equal(ids, tc.exactly) {
				t.Fatalf("got %v, want %v", ids, tc.exactly)
			}
			if tc.exactly == nil && tc.count >= 0 && len(ids) != tc.count {
				t.Errorf("got %d packages, want %d: %v", len(ids), tc.count, ids)
			}
			for _, id := range tc.has {
				if !slices.Contains(ids, id) {
					t.Errorf("missing %s in %v", id, ids)
				}
			}
			for _, id := range tc.hasNot {
				if slices.Contains(ids, id) {
					t.Errorf("unexpected %s", id)
				}
			}
			if !sort.SliceIsSorted(ids, func(i, j int) bool { return strings.Split(ids[i], "@")[0] < strings.Split(ids[j], "@")[0] }) {
				t.Errorf("not sorted by name: %v", ids)
			}
		})
	}
}

func TestEPRSearchDetails(t *testing.T) {
	r := eprStore(t).store.URL

	// §2.10: the 1.2.0 notice is stamped on every version; §2.7 the
	// second package path's 1.1.0 wins.
	_, list := searchIDs(t, r, "/search?package=multiversion&all=true")
	for _, p := range list {
		if p.Deprecated == nil || p.Deprecated.Since != "1.2.0" {
			t.Errorf("%s@%s: deprecated = %+v, want the 1.2.0 notice", p.Name, p.Version, p.Deprecated)
		}
		if p.Version == "1.1.0" && !strings.Contains(p.Title, "Second") {
			t.Errorf("multiversion 1.1.0 title %q: the second package path must win", p.Title)
		}
		if p.SignaturePath != "/epr/multiversion/multiversion-"+p.Version+".zip.sig" {
			t.Errorf("signature_path = %q", p.SignaturePath)
		}
	}
	w := get(t, r, "GET", "/package/multiversion/1.0.3/", nil)
	if !strings.Contains(w.Body.String(), `"since": "1.2.0"`) {
		t.Errorf("/package/multiversion/1.0.3/ lacks the propagated notice:\n%s", w.Body)
	}

	// §2.5: matched only through a template: keep only that template.
	_, list = searchIDs(t, r, "/search?category=datastore&prerelease=true")
	for _, p := range list {
		if p.Name == "example" {
			if len(p.PolicyTemplates) != 1 || p.PolicyTemplates[0].Name != "logs" {
				t.Errorf("example templates = %+v, want only logs", p.PolicyTemplates)
			}
		}
	}

	// internal is accepted and ignored.
	a, b := get(t, r, "GET", "/search", nil), get(t, r, "GET", "/search?internal=true", nil)
	if a.Body.String() != b.Body.String() {
		t.Error("/search?internal=true differs from /search")
	}
	// JSON format: 2-space indent, trailing newline, no HTML escaping.
	body := a.Body.String()
	if !strings.HasPrefix(body, "[\n  {\n    \"name\": ") || !strings.HasSuffix(body, "}\n]\n") {
		t.Errorf("unexpected /search framing: %.60q ... %q", body, body[len(body)-10:])
	}
	var again []json.RawMessage
	if err := json.Unmarshal(a.Body.Bytes(), &again); err != nil {
		t.Fatal(err)
	}
	re, _ := eprJSON(again)
	if string(re) != body {
		t.Error("/search body is not in EPR's canonical indentation")
	}
}

func TestEPRCategories(t *testing.T) {
	r := eprStore(t).store.URL
	type cat struct {
		ID          string `json:"id"`
		Title       string `json:"title"`
		Count       int    `json:"count"`
		ParentID    string `json:"parent_id"`
		ParentTitle string `json:"parent_title"`
	}
	decode := func(url string) map[string]cat {
		w := get(t, r, "GET", url, nil)
		if w.Code != 200 {
			t.Fatalf("%s: %d %s", url, w.Code, w.Body)
		}
		var list []cat
		if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
			t.Fatal(err)
		}
		out := map[string]cat{}
		for i, c := range list {
			if i > 0 && list[i-1].ID >= c.ID {
				t.Errorf("%s: not sorted by id", url)
			}
			out[c.ID] = c
		}
		return out
	}
	// Without include_policy_templates, /categories counts the package
	// categories of exactly the revisions /search returns for the same
	// filter (§2.8).
	for _, q := range []string{"", "experimental=true", "experimental=true&kibana.version=6.5.2", "prerelease=true",
		"prerelease=true&kibana.version=6.5.2", "capabilities=observability,security&prerelease=true",
		"capabilities=none&prerelease=true", "spec.min=1.1&spec.max=2.10&prerelease=true", "spec.max=2.10&prerelease=true",
		"discovery=fields:process.pid&prerelease=true", "discovery=datasets:good_content.errors&prerelease=true",
		"agent.version=9.1.0", "agent.version=9.5.0"} {
		t.Run(q, func(t *testing.T) {
			got := decode("/categories?" + q)
			_, list := searchIDs(t, r, "/search?"+q)
			want := map[string]int{}
			for _, p := range list {
				for _, c := range p.Categories {
					want[c]++
				}
			}
			if len(got) != len(want) {
				t.Errorf("got %d categories, want %d", len(got), len(want))
			}
			for id, n := range want {
				if got[id].Count != n {
					t.Errorf("%s: count %d, want %d", id, got[id].Count, n)
				}
			}
		})
	}
	cats := decode("/categories")
	if c := cats["web"]; c.Title != "Web Server" || c.ParentID != "observability" || c.ParentTitle != "Observability" {
		t.Errorf("web = %+v", c)
	}
	if c := cats["datastore"]; c.Title != "Database" {
		t.Errorf("datastore = %+v", c)
	}
	withTemplates := decode("/categories?include_policy_templates=true")
	if c := withTemplates["compute"]; c.Title != "compute" || c.Count == 0 {
		t.Errorf("template-only unknown category compute = %+v, want title = id", c)
	}
	w := get(t, r, "GET", "/categories?discovery=datasets:good_content.errors&prerelease=true&discovery=fields:process.path", nil)
	if w.Body.String() != "[]\n" {
		t.Errorf("empty /categories = %q, want \"[]\\n\"", w.Body)
	}
}

func TestEPRErrors(t *testing.T) {
	s := eprStore(t)
	r := s.store.URL
	strict := strictRegistry(t, s)
	tests := []struct {
		base string
		url  string
		code int
		body string
	}{
		{r, "/categories?experimental=foo", 400, "invalid 'experimental' query param: 'foo'\n"},
		{r, "/categories?prerelease=foo", 400, "invalid 'prerelease' query param: 'foo'\n"},
		{r, "/categories?include_policy_templates=foo", 400, "invalid 'include_policy_templates' query param: 'foo'\n"},
		{r, "/categories?spec.max=2.10.1&prerelease=true", 400, "invalid 'spec.max' version: invalid version '2.10.1': it should be <major.version>\n"},
		{r, "/search?spec.max=2.10.1&prerelease=true", 400, "invalid 'spec.max' version: invalid version '2.10.1': it should be <major.version>\n"},
		{r, "/search?spec.min=a.b", 400, "invalid 'spec.min' version: invalid spec version 'a.b': invalid semantic version\n"},
		{r, "/search?experimental=foo", 400, "invalid 'experimental' query param: 'foo'\n"},
		{r, "/search?prerelease=foo", 400, "invalid 'prerelease' query param: 'foo'\n"},
		{r, "/search?all=foo", 400, "invalid 'all' query param: 'foo'\n"},
		{r, "/search?kibana.version=foo", 400, "invalid Kibana version 'foo': invalid semantic version\n"},
		{r, "/search?agent.version=foo", 400, "invalid agent version 'foo': invalid semantic version\n"},
		{r, "/search?discovery=foo", 400, "invalid 'discovery' query param: 'foo': could not parse filter \"foo\"\n"},
		{r, "/search?discovery=bar:x", 400, "invalid 'discovery' query param: 'bar:x': unknown discovery filter \"bar\"\n"},
		{strict, "/search?package=yamlpipeline&unknown=true", 400, "unknown query parameter: \"unknown\"\n"},
		{strict, "/search?internal=true", 200, ""},
		{r, "/epr/example/example-999.0.2.zip", 404, "artifact not found\n"},
		{r, "/epr/example/missing-0.1.2.zip", 404, "artifact not found\n"},
		{r, "/epr/example/example-a.b.c.zip", 400, "invalid package version\n"},
		{r, "/epr/example/example-0.0.1.zip.sig", 404, "signature file not found\n"},
		{r, "/package/missing/1.0.0/", 404, "package revision not found\n"},
		{r, "/package/example/999.0.0/", 404, "package revision not found\n"},
		{r, "/package/example/a.b.c/", 400, "invalid package version\n"},
		{r, "/package/sql_input/1.0.1/", 404, "package revision not found\n"},
		// The reference EPR (the oracle) differs from epr-api.md here: the
		// static route catches the upper-case name and its strict slash
		// redirects; without the slash nothing matches.
		{r, "/package/Example/1.0.0/", 301, "<a href=\"/package/Example/1.0.0\">Moved Permanently</a>.\n\n"},
		{r, "/package/Example/1.0.0", 404, "404 page not found\n"},
		{r, "/package/Example/1.0.0/manifest.yml", 404, "package revision not found\n"},
		{r, "/package/example/1.0.0/no/such/file.txt", 404, "resource not found\n"},
		{r, "/package/none/1.0.0/img/foo.jpg", 404, "package revision not found\n"},
		{r, "/nothing/here", 404, "404 page not found\n"},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			w := get(t, tc.base, "GET", tc.url, nil)
			if w.Code != tc.code || (tc.body != "" && w.Body.String() != tc.body) {
				t.Fatalf("got %d %q, want %d %q", w.Code, w.Body, tc.code, tc.body)
			}
			if tc.code >= 400 {
				if ct := w.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
					t.Errorf("Content-Type %q", ct)
				}
				cc := w.Header()["Cache-Control"]
				// Trap §1.2: a file missing for an existing package keeps
				// the public headers; lookups that fail use no-store.
				want := []string{"max-age=0", "private, no-store"}
				if tc.body == "resource not found\n" {
					want = []string{"max-age=1", "public"}
				}
				if tc.body == "404 page not found\n" {
					if w.Header().Get("Access-Control-Allow-Origin") != "" {
						t.Error("CORS header on the NotFound handler")
					}
				}
				if !slices.Equal(cc, want) {
					t.Errorf("Cache-Control %q, want %q", cc, want)
				}
			}
		})
	}
}

func TestEPRRoutes(t *testing.T) {
	r := eprStore(t).store.URL

	w := get(t, r, "GET", "/", nil)
	want := "{\n  \"service.name\": \"package-registry\",\n  \"service.version\": \"1.40.1\"\n}\n"
	if w.Body.String() != want || w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("/ = %q %v", w.Body, w.Header())
	}
	if w2 := get(t, r, "GET", "/index.json", nil); w2.Body.String() != want {
		t.Errorf("/index.json = %q", w2.Body)
	}
	if cc := w.Header()["Cache-Control"]; !slices.Equal(cc, []string{"max-age=1", "public"}) {
		t.Errorf("Cache-Control %q", cc)
	}
	if w := get(t, r, "POST", "/health", nil); w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("/health = %d %q", w.Code, w.Body)
	}
	if w := get(t, r, "GET", "/favicon.ico", nil); w.Code != 200 || w.Header().Get("Content-Type") != "image/x-icon" || w.Body.Len() == 0 {
		t.Errorf("/favicon.ico = %d %v", w.Code, w.Header())
	}

	redirects := map[string]string{
		"/package/example/1.0.0":                      "/package/example/1.0.0/",
		"/search/?package=example":                    "/search?package=example",
		"/categories/":                                "/categories",
		"/package//example/1.0.0/":                    "/package/example/1.0.0/",
		"/package/example/1.0.0/docs/../manifest.yml": "/package/example/1.0.0/manifest.yml",
	}
	for from, to := range redirects {
		w := get(t, r, "GET", from, nil)
		if w.Code != 301 || w.Header().Get("Location") != to {
			t.Errorf("%s: %d Location %q, want 301 %q", from, w.Code, w.Header().Get("Location"), to)
		}
	}

	// Package index uses the index cache time (trap §8.2) and serves the
	// zip's document when the zip came first.
	w = get(t, r, "GET", "/package/example/1.0.1/", nil)
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("/package/example/1.0.1/ = %d %v", w.Code, w.Header())
	}
	var doc map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["format_version"] == nil || doc["readme"] != "/package/example/1.0.1/docs/README.md" || doc["download"] != "/epr/example/example-1.0.1.zip" {
		t.Errorf("document: %v", doc)
	}

	// The first /epr/ segment is ignored (trap §8.3).
	w = get(t, r, "GET", "/epr/example/nodirentries-1.0.0.zip", nil)
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/zip" || !strings.HasPrefix(w.Body.String(), "PK") {
		t.Errorf("nodirentries zip: %d %v", w.Code, w.Header())
	}
	if cc := w.Header()["Cache-Control"]; !slices.Equal(cc, []string{"max-age=1", "public"}) {
		t.Errorf("zip Cache-Control %q", cc)
	}
	w = get(t, r, "GET", "/epr/anything/example-1.0.1.zip.sig", nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "BEGIN PGP SIGNATURE") {
		t.Errorf("signature: %d %q", w.Code, w.Body)
	}

	types := map[string]string{
		"/package/example/1.0.0/manifest.yml":                 "text/yaml; charset=UTF-8",
		"/package/example/1.0.0/docs/README.md":               "text/markdown; charset=utf-8",
		"/package/example/1.0.1/img/kibana-envoyproxy.jpg":    "image/jpeg",
		"/package/example/1.0.1/docs/README.md":               "text/markdown; charset=utf-8",
		"/package/example/1.1.0/img/kibana-envoyproxy.jpg":    "image/jpeg",
		"/package/good_content/0.1.0/img/system.svg":          "image/svg+xml",
		"/package/example/1.0.0/img/../docs/README.md":        "",
		"/package/multiversion/1.1.0/manifest.yml":            "text/yaml; charset=UTF-8",
		"/package/nodirentries/1.0.0/manifest.yml":            "text/yaml; charset=UTF-8",
		"/package/sql_input/0.3.0/img/sample-screenshot.png":  "image/png",
		"/package/deployment_modes/0.0.1/img/sample-logo.svg": "image/svg+xml",
	}
	for url, ct := range types {
		w := get(t, r, "GET", url, nil)
		if ct == "" {
			continue
		}
		if w.Code != 200 || w.Header().Get("Content-Type") != ct || w.Header().Get("Last-Modified") == "" {
			t.Errorf("%s: %d %q, want 200 %q with Last-Modified", url, w.Code, w.Header().Get("Content-Type"), ct)
		}
	}
	w = get(t, r, "GET", "/package/multiversion/1.1.0/manifest.yml", nil)
	if !strings.Contains(w.Body.String(), "Second") {
		t.Error("static file of multiversion 1.1.0 must come from the second package path")
	}
}

func TestArtifactConditionalAndRange(t *testing.T) {
	r := eprStore(t).store.URL
	for _, url := range []string{"/epr/example/example-1.0.1.zip", "/package/example/1.0.1/img/kibana-envoyproxy.jpg"} {
		t.Run(url, func(t *testing.T) {
			full := get(t, r, "GET", url, nil)
			if full.Code != 200 {
				t.Fatalf("%d", full.Code)
			}
			etag, lm := full.Header().Get("ETag"), full.Header().Get("Last-Modified")
			if etag == "" || lm == "" || full.Header().Get("Accept-Ranges") != "bytes" {
				t.Fatalf("headers %v", full.Header())
			}
			head := get(t, r, "HEAD", url, nil)
			if head.Code != 200 || head.Body.Len() != 0 && head.Body.Len() != full.Body.Len() || head.Header().Get("Content-Length") != full.Header().Get("Content-Length") {
				t.Errorf("HEAD: %d %v", head.Code, head.Header())
			}
			if w := get(t, r, "GET", url, map[string]string{"If-None-Match": etag}); w.Code != 304 {
				t.Errorf("If-None-Match: %d, want 304", w.Code)
			}
			if w := get(t, r, "GET", url, map[string]string{"If-Modified-Since": time.Now().UTC().Add(time.Hour).Format(http.TimeFormat)}); w.Code != 304 {
				t.Errorf("If-Modified-Since now: %d, want 304", w.Code)
			}
			if w := get(t, r, "GET", url, map[string]string{"If-Modified-Since": time.Time{}.Format(http.TimeFormat)}); w.Code != 200 {
				t.Errorf("If-Modified-Since zero: %d, want 200", w.Code)
			}
			// Reassemble from 100-byte ranges.
			var got []byte
			size := full.Body.Len()
			for off := 0; off < size; off += 100 {
				end := min(off+99, size-1)
				w := get(t, r, "GET", url, map[string]string{"Range": "bytes=" + itoa(off) + "-" + itoa(end)})
				if w.Code != 206 {
					t.Fatalf("range %d-%d: %d", off, end, w.Code)
				}
				b, _ := io.ReadAll(w.Body)
				got = append(got, b...)
			}
			if string(got) != full.Body.String() {
				t.Error("ranges do not reassemble to the file")
			}
		})
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
