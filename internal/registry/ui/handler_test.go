package ui_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"pkgstore/internal/registry/ui"
	"pkgstore/internal/server"
	"pkgstore/internal/testkit/servertest"
)

// handlerRe finds an event-handler attribute inside a tag.
var handlerRe = regexp.MustCompile(`(?i)<[^>]*\son[a-z]+\s*=`)

func TestHandlerPages(t *testing.T) {
	f := hostileStore(t)
	for _, c := range []struct {
		name, url string
		status    int
		want      []string
		not       []string
	}{
		{"home", "/ui/", 200, []string{"Good Package", "Hostile &lt;script&gt;", `badge-ga">GA`, `badge-beta">beta`, "2 of 2 packages"}, []string{"1.1.0-beta1"}},
		{"search", "/ui/?q=WELL-BEHAVED", 200, []string{"Good Package", "1 of 2 packages"}, []string{"/ui/package/hostile/"}},
		{"prerelease", "/ui/?prerelease=on&q=good", 200, []string{"v1.1.0-beta1", `badge-pre">prerelease`}, nil},
		{"category", "/ui/?category=security", 200, []string{"Hostile", `aria-current="true">Security`}, []string{"Good Package"}},
		{"category counts", "/ui/", 200, []string{`Observability <span class="count" aria-label="1 package">1</span>`, `Security <span class="count" aria-label="1 package">1</span>`}, nil},
		{"category tree", "/ui/", 200, []string{"<li><a href=\"/ui/?category=custom\">Custom <span class=\"count\" aria-label=\"1 package\">1</span></a></li>\n      <li class=\"sub\"><a href=\"/ui/?category=custom_logs\">Custom Logs "}, nil},
		{"subcategory selected", "/ui/?category=custom_logs", 200, []string{"Good Package", "<li><a href=\"/ui/?category=custom\">Custom <span", `aria-current="true">Custom Logs`}, []string{"/ui/package/hostile/"}},
		{"type", "/ui/?type=input", 200, []string{"0 of 0 packages", "No package matches"}, []string{"no packages yet"}},
		{"plurals", "/ui/?q=good", 200, []string{"1 of 2 packages", `aria-label="1 package">1`}, []string{"1 packages"}},
		{"changelog plural", "/ui/package/hostile/1.0.0/", 200, []string{"<summary>2 versions</summary>"}, nil},
		{"bad type", "/ui/?type=%3Cscript%3E", 400, []string{"Unknown package type &lt;script&gt;"}, []string{"<script>"}},
		{"kibana", "/ui/?kibana=7.17.0", 200, []string{"Hostile"}, []string{"Good Package"}},
		{"bad kibana", "/ui/?kibana=eight", 400, []string{"is not a version"}, nil},
		{"package", "/ui/package/good/1.0.0/", 200, []string{"Good Package", "<table>", `src="/package/good/1.0.0/img/icon.png"`,
			`href="/epr/good/good-1.0.0.zip"`, `href="/epr/good/good-1.0.0.zip.sig"`, "KiB", `xpack.fleet.registryUrl: "http://127.0.0.1:`,
			"^8.0.0", `href="https://github.com/orgs/elastic/teams/integrations"`, "1.1.0-beta1", `aria-current="page">1.0.0`}, []string{"This is not the latest"}},
		{"fields table", "/ui/package/good/1.0.0/", 200, []string{"<table>\n<thead>\n<tr>\n<th>a</th>", "<table class=\"fields\">\n<thead>\n<tr>\n<th>Field</th>", "<td>aws.cloudwatch.metrics.ApproximateNumberOfMessagesNotVisible.avg</td>"}, nil},
		{"licence", "/ui/package/good/1.0.0/", 200, []string{`<dt>License</dt><dd class="licence">Elastic-2.0</dd>`, `<dt>Subscription</dt><dd class="subscription">basic</dd>`}, []string{"<dt>License</dt><dd>basic"}},
		{"no licence stated", "/ui/package/hostile/1.0.0/", 200, []string{`<dt>Subscription</dt><dd class="subscription">basic</dd>`}, []string{"<dt>License</dt>"}},
		{"older beta", "/ui/package/good/1.1.0-beta1/", 200, []string{`badge-beta">beta`, `badge-pre">prerelease`}, nil},
		{"hostile", "/ui/package/hostile/1.0.0/", 200, []string{"Dashboard &lt;b&gt;overview&lt;/b&gt;", "Changelog", "Earlier", `href="https://github.com/elastic/integrations/pull/1"`, "logfile"}, []string{"<script", "javascript:", "evil.example", `href="/package/hostile/1.0.0/img/evil.svg"`}},
		{"unknown package", "/ui/package/nope/1.0.0/", 404, []string{"no version 1.0.0 of nope"}, nil},
		{"unknown page", "/ui/nope", 404, []string{"no such page"}, nil},
		{"asset", "/ui/assets/style.css", 200, []string{"prefers-color-scheme: dark"}, nil},
		{"missing asset", "/ui/assets/nope.css", 404, nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := get(t, f.store.URL, "GET", c.url, nil)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, c.status, body)
			}
			if got := resp.Header.Get("Content-Security-Policy"); got != ui.CSP {
				t.Errorf("CSP %q", got)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no nosniff")
			}
			for _, w := range c.want {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %q", w)
				}
			}
			if m := handlerRe.FindString(body); m != "" {
				t.Errorf("an element carries an event handler: %s", m)
			}
			for _, n := range c.not {
				if strings.Contains(body, n) {
					t.Errorf("body holds %q", n)
				}
			}
		})
	}
}

func TestHandlerRouting(t *testing.T) {
	f := hostileStore(t)
	for _, c := range []struct {
		method, url string
		status      int
		location    string
	}{
		{"GET", "/ui", 301, "/ui/"},
		{"GET", "/ui/package/good", 301, "/ui/package/good/"},
		{"GET", "/ui/package/good/", 302, "/ui/package/good/1.0.0/"},
		{"GET", "/ui/package/good/1.0.0", 301, "/ui/package/good/1.0.0/"},
		{"GET", "/ui/package/nope/", 404, ""},
		{"GET", "/ui/package/", 404, ""},
		{"GET", "/ui/package/good/1.0.0/extra", 404, ""},
		{"GET", "/ui/../search", 301, "/search"},
		{"GET", "/ui//package/good/1.0.0/", 301, "/ui/package/good/1.0.0"},
		{"HEAD", "/ui/", 200, ""},
		{"POST", "/ui/", 405, ""},
		{"DELETE", "/ui/package/good/1.0.0/", 405, ""},
	} {
		t.Run(c.method+" "+c.url, func(t *testing.T) {
			resp, body := get(t, f.store.URL, c.method, c.url, nil)
			if resp.StatusCode != c.status || resp.Header.Get("Location") != c.location {
				t.Errorf("%d %q, want %d %q", resp.StatusCode, resp.Header.Get("Location"), c.status, c.location)
			}
			if c.method == "HEAD" && body != "" {
				t.Error("HEAD answered a body")
			}
		})
	}
	// Revalidation: the ETag names the snapshot. (A package page shows the
	// URL the request reached, this store having no --public-url: private.)
	resp, _ := get(t, f.store.URL, "GET", "/ui/package/good/1.0.0/", nil)
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Cache-Control") != "private, no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, resp.Header.Get("Cache-Control"))
	}
	if resp, _ := get(t, f.store.URL, "GET", "/ui/package/good/1.0.0/", map[string]string{"If-None-Match": etag}); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
	}
	// EPR's routes are untouched.
	if resp, body := get(t, f.store.URL, "GET", "/search?package=good", nil); resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") != "" || !strings.Contains(body, `"name": "good"`) {
		t.Errorf("/search: %d CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
}

// TestPagesFollowTheIndex publishes a new version: the cached home page
// and the package page change with the snapshot.
func TestPagesFollowTheIndex(t *testing.T) {
	s := startPlain(t, nil)
	_, body := get(t, s.URL, "GET", "/ui/", nil)
	for _, w := range []string{"0 of 0 packages", "This registry has no packages yet", "pkgstore publish build/packages/NAME-VERSION.zip --registry \"" + s.URL + "\" --token TOKEN"} {
		if !strings.Contains(body, w) {
			t.Fatalf("empty store home lacks %q: %s", w, body)
		}
	}
	if strings.Contains(body, "No package matches") {
		t.Errorf("empty store home says no package matches the filters: %s", body)
	}
	// The empty store's page quotes the address the browser used: never
	// a Host it cannot be, and never to another client.
	req, err := http.NewRequest("GET", s.URL+"/ui/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = `evil.example"><script>alert(1)</script>`
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	body = string(raw)
	if strings.Contains(body, "<script>") || strings.Contains(body, "evil.example") || !strings.Contains(body, `--registry "http://localhost:8080"`) {
		t.Errorf("empty store home with a hostile Host: %s", body)
	}
	if resp.Header.Get("Cache-Control") != "private, no-cache" || resp.Header.Get("Vary") != "Host, X-Forwarded-Proto" {
		t.Errorf("empty store home: Cache-Control %q Vary %q, want it private", resp.Header.Get("Cache-Control"), resp.Header.Get("Vary"))
	}
	dir := t.TempDir()
	writeTestPackages(t, dir)
	// Readers run while the index moves under them: every answer is a
	// whole page of one snapshot or another.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			urls := []string{"/ui/", "/ui/package/good/1.0.0/", "/ui/?q=good&prerelease=on", "/ui/package/hostile/1.0.0/"}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := http.Get(s.URL + urls[(i+n)%len(urls)])
				if err != nil {
					t.Error(err)
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || (resp.StatusCode != 200 && resp.StatusCode != 404) || !strings.HasSuffix(strings.TrimSpace(string(body)), "</html>") {
					t.Errorf("%s: %d %v, %d bytes", urls[(i+n)%len(urls)], resp.StatusCode, err, len(body))
					return
				}
			}
		}()
	}
	publishFolders(t, s, dir)
	close(stop)
	wg.Wait()
	if _, body = get(t, s.URL, "GET", "/ui/", nil); !strings.Contains(body, "Good Package") {
		t.Errorf("home after publishing does not list good")
	}
}

func TestNoUIAndReadOnly(t *testing.T) {
	off := startPlain(t, func(c *server.Config) { c.NoUI = true })
	if resp, body := get(t, off.URL, "GET", "/ui/", nil); resp.StatusCode != 404 || body != "404 page not found\n" {
		t.Errorf("--no-ui: %d %q, want the registry's 404", resp.StatusCode, body)
	}
	// A read-only replica over a writer's folders serves the catalog too.
	w := servertest.Start(t, servertest.Options{})
	dir := t.TempDir()
	writeTestPackages(t, dir)
	publishFolders(t, w, dir)
	ro := servertest.Start(t, servertest.Options{Data: w.Data, Configure: func(c *server.Config) {
		c.ReadOnly = true
		c.Tokens = nil
	}})
	if resp, body := get(t, ro.URL, "GET", "/ui/package/good/1.0.0/", nil); resp.StatusCode != 200 || !strings.Contains(body, "Good Package") {
		t.Errorf("read-only replica: %d", resp.StatusCode)
	}
}
