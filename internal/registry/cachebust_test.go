package registry_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"pkgstore/internal/registry/httpenc"
)

// TestCacheBustingCompressedFast: a query string asked for once (a client
// appending &zz=N to bust the cache) is compressed at the fast level, in
// the coding asked only, and not kept; the same query asked again is
// cached and compressed at the best level; distinct queries never push a
// hot answer out of the cache.
func TestCacheBustingCompressedFast(t *testing.T) {
	f := eprStore(t)
	base, reg := f.store.URL, f.store.Server.Registry
	plain := get(t, base, "GET", "/search?all=true&prerelease=true", nil)
	if plain.Code != 200 {
		t.Fatalf("%d %s", plain.Code, plain.Body)
	}
	hot := "all=true&prerelease=true&hot=1"
	for range 2 {
		get(t, base, "GET", "/search?"+hot, nil)
	}
	if !reg.SearchCachedForTest(hot) {
		t.Fatal("a query asked for twice is not cached")
	}
	for i, enc := range []string{"gzip", "zstd", "br"} {
		q := fmt.Sprintf("all=true&prerelease=true&zz=%d", i)
		var tags []string
		for n, effort := range []string{"fast", "best"} {
			w := get(t, base, "GET", "/search?"+q, map[string]string{"Accept-Encoding": enc})
			h := w.Header()
			etag := h.Get("Etag")
			if w.Code != 200 || h.Get("Content-Encoding") != enc || strings.HasSuffix(etag, `-fast"`) != (effort == "fast") {
				t.Fatalf("%s, request %d: %d %s ETag %s, want %s compressed at the %s level", q, n+1, w.Code, h.Get("Content-Encoding"), etag, enc, effort)
			}
			if enc == "gzip" {
				// The gzip header records the level: 4 fastest, 2 best.
				if xfl := map[string]byte{"fast": 4, "best": 2}[effort]; w.Body.Bytes()[8] != xfl {
					t.Errorf("%s, request %d: gzip XFL %d, want %d (%s)", q, n+1, w.Body.Bytes()[8], xfl, effort)
				}
			}
			dr, err := httpenc.NewReader(enc, bytes.NewReader(w.Body.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if _, err := got.ReadFrom(dr); err != nil || !bytes.Equal(got.Bytes(), plain.Body.Bytes()) {
				t.Errorf("%s, request %d: decoded body differs from the plain answer (%v)", q, n+1, err)
			}
			if cached := reg.SearchCachedForTest(q); cached != (n == 1) {
				t.Errorf("%s after request %d: cached %v", q, n+1, cached)
			}
			tags = append(tags, etag)
		}
		// The copy a client got from the first answer is still good.
		if w := get(t, base, "GET", "/search?"+q, map[string]string{"Accept-Encoding": enc, "If-None-Match": tags[0]}); w.Code != 304 {
			t.Errorf("%s: If-None-Match with the fast answer's ETag: %d, want 304", q, w.Code)
		}
	}
	// /categories is admitted the same way.
	for n, effort := range []string{"fast", "best"} {
		w := get(t, base, "GET", "/categories?include_policy_templates=true&zz=1", map[string]string{"Accept-Encoding": "gzip"})
		if etag := w.Header().Get("Etag"); w.Code != 200 || w.Header().Get("Content-Encoding") != "gzip" || strings.HasSuffix(etag, `-fast"`) != (effort == "fast") {
			t.Errorf("/categories, request %d: %d %s ETag %s, want gzip at the %s level", n+1, w.Code, w.Header().Get("Content-Encoding"), etag, effort)
		}
	}
	// More distinct queries than the cache holds, each asked once.
	for i := range 1000 {
		if w := get(t, base, "GET", fmt.Sprintf("/search?all=true&prerelease=true&bust=%d", i), map[string]string{"Accept-Encoding": "gzip"}); w.Code != 200 {
			t.Fatalf("bust %d: %d", i, w.Code)
		}
	}
	if !reg.SearchCachedForTest(hot) {
		t.Error("1000 distinct queries asked once pushed a hot query out of the cache")
	}
}

// TestPackageSearchesCached: Kibana asks /search?package=NAME for every
// installed package on each Fleet page (20+ per page, kibana #160130) and
// EPR renders each anew; here each is cached from its second request, in
// every spelling Kibana uses, with the same body as the first.
func TestPackageSearchesCached(t *testing.T) {
	f := eprStore(t)
	base, reg := f.store.URL, f.store.Server.Registry
	all := get(t, base, "GET", "/search?all=true&prerelease=true", nil)
	var list []struct{ Name string }
	if err := json.Unmarshal(all.Body.Bytes(), &list); err != nil || len(list) == 0 {
		t.Fatalf("listing: %v (%d)", err, len(list))
	}
	names := map[string]bool{}
	for _, p := range list {
		names[p.Name] = true
	}
	for name := range names {
		for _, q := range []string{"package=" + name, "package=" + name + "&prerelease=true", "package=" + name + "&kibana.version=8.15.0&prerelease=false"} {
			first := get(t, base, "GET", "/search?"+q, nil)
			second := get(t, base, "GET", "/search?"+q, nil)
			if first.Code != 200 || second.Code != 200 || !bytes.Equal(first.Body.Bytes(), second.Body.Bytes()) {
				t.Fatalf("%s: %d then %d, bodies equal %v", q, first.Code, second.Code, bytes.Equal(first.Body.Bytes(), second.Body.Bytes()))
			}
			if !reg.SearchCachedForTest(q) {
				t.Errorf("/search?%s not cached after two requests", q)
			}
		}
	}
}
