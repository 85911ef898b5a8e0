package proxy_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/client"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/server"
	"pkgstore/internal/testkit/eprtest"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/ziptest"
)

type rev struct{ name, version, kibana, category, desc string }

// zipOf builds a package zip with sorted entries (the reference takes
// assets in zip order).
func zipOf(t testing.TB, r rev) []byte {
	t.Helper()
	return ziptest.SortedPackage(t, r.name, r.version, func(m string) string {
		m = strings.Replace(m, `version: "^8.0.0"`, `version: "`+r.kibana+`"`, 1)
		m = strings.Replace(m, "  - custom\n", "  - "+r.category+"\n", 1)
		if r.desc != "" {
			m = strings.Replace(m, "description: A package built by the tests.", "description: "+r.desc, 1)
		}
		return m
	})
}

func folder(t testing.TB, key *sigtest.Key, revs []rev) string {
	t.Helper()
	dir := t.TempDir()
	for _, r := range revs {
		z := zipOf(t, r)
		id := packageid.ID{Name: r.name, Version: r.version}
		if err := os.WriteFile(filepath.Join(dir, id.ZipName()), z, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, id.ZipName()+".sig"), key.Sign(t, z), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var (
	upstreamRevs = []rev{
		{"alpha", "1.0.0", "^8.0.0", "security", ""},
		{"alpha", "1.1.0", "^8.10.0", "security", ""},
		{"beta", "1.0.0", "^8.0.0", "observability", ""},
		{"shared", "1.0.0", "^8.0.0", "security", "The upstream's copy."},
		{"remoteonly", "2.0.0", "^7.17.0 || ^8.0.0", "custom", ""},
	}
	localRevs = []rev{
		{"alpha", "1.2.0", "^8.12.0", "security", ""},
		{"beta", "0.5.0", "^8.0.0", "observability", ""},
		{"shared", "1.0.0", "^8.0.0", "security", "The local copy."},
		{"localonly", "1.0.0", "^8.0.0", "custom", ""},
	}
)

func startOurs(t testing.TB, key *sigtest.Key, upstream string, cache bool, revs []rev) *servertest.Store {
	t.Helper()
	s := servertest.Start(t, servertest.Options{Key: key, Configure: func(c *server.Config) {
		if upstream != "" {
			c.Proxy = server.ProxyConfig{Upstream: upstream, Cache: cache, Retry: client.Retry{Attempts: 2, Backoff: 10 * time.Millisecond}}
		}
	}})
	for _, r := range revs {
		id := packageid.ID{Name: r.name, Version: r.version}
		if sub := s.Publish(t, id.ZipName(), zipOf(t, r), client.Options{Legacy: true}); sub.Status != "published" {
			t.Fatalf("publish %s: %+v", id, sub)
		}
	}
	for _, r := range revs {
		waitLocal(t, s, packageid.ID{Name: r.name, Version: r.version})
	}
	return s
}

func waitLocal(t testing.TB, s *servertest.Store, id packageid.ID) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !s.Server.Registry.Has(id) {
		if time.Now().After(deadline) {
			t.Fatalf("%s not in the local index", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type answer struct {
	status                   int
	body                     []byte
	location, ctype, caching string
}

func fetch(t testing.TB, base, path string) answer {
	t.Helper()
	resp, err := noRedirect.Get(base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	loc := resp.Header.Get("Location")
	loc = strings.TrimPrefix(loc, base)
	return answer{resp.StatusCode, b, loc, resp.Header.Get("Content-Type"), strings.Join(resp.Header.Values("Cache-Control"), ", ")}
}

// TestProxyModeMatchesReference: the reference EPR in proxy mode and ours,
// over the same local and upstream content, answer alike.
func TestProxyModeMatchesReference(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	refUp := eprtest.Start(t, eprtest.Options{PackagePaths: []string{folder(t, key, upstreamRevs)}, RequireSignatures: true})
	storeUp := startOurs(t, key, "", false, upstreamRevs)
	for _, up := range []struct{ name, url string }{{"reference upstream", refUp.URL}, {"pkgstore upstream", storeUp.URL}} {
		t.Run(up.name, func(t *testing.T) { compareProxies(t, key, up.url, false) })
	}
	// Ours with its local packages in a package path, as the reference
	// has them (docs/package-paths.md): the same answers.
	t.Run("package path", func(t *testing.T) { compareProxies(t, key, refUp.URL, true) })
}

func compareProxies(t *testing.T, key *sigtest.Key, upURL string, packagePath bool) {
	local := folder(t, key, localRevs)
	ref := eprtest.Start(t, eprtest.Options{PackagePaths: []string{local}, RequireSignatures: true,
		Args: []string{"-feature-proxy-mode", "-proxy-to", upURL, "-proxy-allow-insecure"}})
	var ours *servertest.Store
	if packagePath {
		ours = servertest.Start(t, servertest.Options{Key: key, Configure: func(c *server.Config) {
			c.Proxy = server.ProxyConfig{Upstream: upURL, Retry: client.Retry{Attempts: 2, Backoff: 10 * time.Millisecond}}
			c.PackagePaths = []string{local}
			c.NoSpecValidation = true
		}})
	} else {
		ours = startOurs(t, key, upURL, false, localRevs)
	}
	paths := []string{
		"/search", "/search?all=true", "/search?package=alpha", "/search?package=alpha&all=true",
		"/search?package=shared", "/search?kibana.version=8.5.0", "/search?kibana.version=7.17.0&all=true",
		"/search?category=security&all=true", "/search?package=nothing",
		"/categories", "/categories?kibana.version=8.5.0", "/categories?include_policy_templates=true",
		"/package/alpha/1.0.0/", "/package/alpha/1.2.0/", "/package/shared/1.0.0/", "/package/remoteonly/2.0.0/",
		"/package/nothing/1.0.0/", "/package/alpha/1.0/",
		"/epr/alpha/alpha-1.0.0.zip", "/epr/alpha/alpha-1.0.0.zip.sig", "/epr/alpha/alpha-1.2.0.zip",
		"/epr/shared/shared-1.0.0.zip", "/epr/nothing/nothing-1.0.0.zip", "/epr/nothing/nothing-1.0.0.zip.sig",
		"/package/alpha/1.0.0/docs/README.md", "/package/alpha/1.0.0/img/icon.svg", "/package/localonly/1.0.0/docs/README.md",
		"/package/nothing/1.0.0/docs/README.md",
		"/search?kibana.version=notaversion", "/categories?prerelease=maybe", "/epr/alpha/alpha-1.0.zip",
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			want := fetch(t, ref.URL, p)
			got := fetch(t, ours.URL, p)
			// Redirects point at the same upstream; compare the paths.
			want.location = strings.TrimPrefix(want.location, upURL)
			got.location = strings.TrimPrefix(got.location, upURL)
			if got.status != want.status || got.location != want.location || got.ctype != want.ctype || got.caching != want.caching {
				t.Errorf("ours %d %q %q %q, reference %d %q %q %q", got.status, got.location, got.ctype, got.caching, want.status, want.location, want.ctype, want.caching)
			}
			if !bytes.Equal(got.body, want.body) {
				t.Errorf("bodies differ:\nours      %.600s\nreference %.600s", got.body, want.body)
			}
		})
	}
}

// TestPullThroughCache: a revision downloaded through a caching proxy is
// verified and published locally, and the site keeps serving it (and
// searching) once the upstream is gone; a revision it never fetched
// answers 502 (the upstream's error, not a 404: failfast_test.go); a proxy
// without the cache answers its local revisions with a Warning (EPR: 500).
func TestPullThroughCache(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	up := startOurs(t, key, "", false, upstreamRevs)
	cached := startOurs(t, key, up.URL, true, localRevs)
	plain := startOurs(t, key, up.URL, false, localRevs)
	id := packageid.ID{Name: "alpha", Version: "1.0.0"}
	_, want := up.Get(t, "/epr/alpha/alpha-1.0.0.zip")

	a := fetch(t, cached.URL, "/epr/alpha/alpha-1.0.0.zip")
	if a.status != 200 || !bytes.Equal(a.body, want) {
		t.Fatalf("through the cache: %d, %d bytes (want the upstream's %d)", a.status, len(a.body), len(want))
	}
	if !cached.Server.Registry.Has(id) {
		t.Fatal("the cached revision is not in the local index")
	}
	if plain.Server.Registry.Has(id) {
		t.Fatal("the plain proxy kept a revision")
	}
	if a := fetch(t, plain.URL, "/epr/alpha/alpha-1.0.0.zip"); a.status != http.StatusMovedPermanently {
		t.Errorf("plain proxy: %d, want a 301 to the upstream", a.status)
	}

	up.Stop() // the link drops
	for _, p := range []string{"/epr/alpha/alpha-1.0.0.zip", "/epr/alpha/alpha-1.0.0.zip.sig", "/package/alpha/1.0.0/", "/package/alpha/1.0.0/docs/README.md", "/search?all=true", "/categories"} {
		if a := fetch(t, cached.URL, p); a.status != 200 {
			t.Errorf("cache without its upstream: %s answered %d %s", p, a.status, a.body)
		}
	}
	if a := fetch(t, cached.URL, "/package/beta/1.0.0/"); a.status != http.StatusBadGateway {
		t.Errorf("cache without its upstream, revision never fetched: %d %s, want 502", a.status, a.body)
	}
	a = fetch(t, cached.URL, "/search?all=true")
	if !strings.Contains(string(a.body), `"download": "/epr/alpha/alpha-1.0.0.zip"`) || !strings.Contains(string(a.body), `"download": "/epr/localonly/localonly-1.0.0.zip"`) {
		t.Errorf("cache without its upstream does not list the cached and local revisions:\n%s", a.body)
	}
	if a := fetchTimed(t, plain.URL, "/search"); a.status != http.StatusOK || len(a.warning) != 1 || !strings.Contains(string(a.body), `"name": "localonly"`) {
		t.Errorf("plain proxy without its upstream: %d, Warning %q, %s; want the local answer with a Warning", a.status, a.warning, a.body)
	}
}

// TestPullThroughCacheRefusesUnverified: a revision whose signature the
// store cannot verify is not kept: the client is sent upstream instead.
func TestPullThroughCacheRefusesUnverified(t *testing.T) {
	stranger := sigtest.NewKey(t, "stranger")
	up := startOurs(t, stranger, "", false, upstreamRevs[:1])
	cached := startOurs(t, sigtest.NewKey(t, "site"), up.URL, true, nil)
	a := fetch(t, cached.URL, "/epr/alpha/alpha-1.0.0.zip")
	if a.status != http.StatusMovedPermanently || a.location != up.URL+"/epr/package/alpha-1.0.0.zip" {
		t.Errorf("unverifiable revision: %d %q, want a 301 upstream", a.status, a.location)
	}
	if cached.Server.Registry.Has(packageid.ID{Name: "alpha", Version: "1.0.0"}) {
		t.Error("an unverifiable revision was kept")
	}
}
