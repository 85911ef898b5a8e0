package server_test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/pkg/markdown"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/ziptest"
)

// readmeAttacks are READMEs of shapes goldmark parses in quadratic time
// (issue 21): 1 MiB of each took up to 5 min 37 s per page view.
var readmeAttacks = []string{"> - ", "- > ", ">- ", "> 1. ", "[a](\n", "[a]\n"}

// readmePackage is a valid package NAME-1.0.0 whose docs/README.md is readme.
func readmePackage(t testing.TB, name, readme string) []byte {
	es := ziptest.PackageEntries(name, "1.0.0")
	for i := range es {
		if strings.HasSuffix(es[i].Name, "/docs/README.md") {
			es[i].Body = []byte(readme)
		}
	}
	return ziptest.Build(t, es...)
}

// timedGet fetches path and fails t when it takes more than limit or does
// not answer 200; it returns the body.
func timedGet(t *testing.T, base, path string, limit time.Duration) (string, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("GET %s: no answer within %s: %v", path, limit, err)
		return "", time.Since(start)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil {
		t.Errorf("GET %s: read within %s: %v", path, limit, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %d", path, resp.StatusCode)
	}
	return string(body), took
}

// TestUIReadmeAttacks: a package whose README is 1 MiB of a shape that
// Markdown parsers take quadratic time on is published into a running
// store; its catalog page answers in under 5 s, three concurrent views
// too, /health and /search answer meanwhile, and the page says why the
// README is shown as plain text. The page views never run the parser.
func TestUIReadmeAttacks(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Memory: true})
	var zips []servertest.Zip
	for i, shape := range readmeAttacks {
		readme := strings.Repeat(shape, markdown.MaxSourceBytes/len(shape))
		id := packageid.ID{Name: fmt.Sprintf("attack%d", i), Version: "1.0.0"}
		zips = append(zips, servertest.Zip{ID: id, Data: readmePackage(t, id.Name, readme)})
	}
	for i, sub := range s.PublishAll(t, zips) {
		if sub.Status != api.StatusPublished {
			t.Fatalf("publish %s: %s %+v", zips[i].ID, sub.Status, sub.Reasons)
		}
	}
	for _, z := range zips {
		s.WaitVisible(t, z.ID.Name, z.ID.Version)
	}
	parses := markdown.Parses()
	for i, shape := range readmeAttacks {
		t.Run(fmt.Sprintf("%q", shape), func(t *testing.T) {
			page := fmt.Sprintf("/ui/package/attack%d/1.0.0/", i)
			var wg sync.WaitGroup
			bodies := make([]string, 3)
			took := make([]time.Duration, 3)
			for v := range bodies {
				wg.Add(1)
				go func() {
					defer wg.Done()
					bodies[v], took[v] = timedGet(t, s.URL, page, 5*time.Second)
				}()
			}
			// The store stays responsive while the views are served.
			for _, p := range []string{"/health", "/search", "/search?package=attack0"} {
				if _, took := timedGet(t, s.URL, p, 2*time.Second); took > 2*time.Second {
					t.Errorf("GET %s took %s during the page views", p, took)
				}
			}
			wg.Wait()
			t.Logf("three concurrent views: %v", took)
			for _, body := range bodies {
				if body == "" {
					continue // reported
				}
				if !strings.Contains(body, "This README is shown as plain text, not rendered: ") {
					t.Errorf("the page does not say why the README is plain text")
				}
				head := html.EscapeString(strings.Repeat(shape, 4))
				if !strings.Contains(body, `<pre class="plain">`+head) {
					t.Errorf("the README is not shown as escaped text (want %q)", head)
				}
			}
		})
	}
	if n := markdown.Parses() - parses; n != 0 {
		t.Errorf("page views ran the Markdown parser %d times", n)
	}
}

// TestUIViewsNeverParse: a README is rendered once, by the publishing job,
// and stored beside the package document; page views read it. A revision
// published before renders were stored (no record) is rendered at its
// first view, once for three concurrent views, and stored then.
func TestUIViewsNeverParse(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Memory: true})
	// Large enough that concurrent first views may overlap its render,
	// small enough to render within budget under -race.
	readme := "# Fine\n\n" + strings.Repeat("Some *text* with a [link](https://www.elastic.co/) and `code`.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n", 1000)
	for _, name := range []string{"fine", "older"} {
		if sub := s.Publish(t, name+"-1.0.0.zip", readmePackage(t, name, readme), client.Options{}); sub.Status != api.StatusPublished {
			t.Fatalf("publish %s: %s %+v", name, sub.Status, sub.Reasons)
		}
		s.WaitVisible(t, name, "1.0.0")
	}
	internal := s.Server.Buckets.Internal
	ctx := context.Background()
	for _, name := range []string{"fine", "older"} {
		if ok, err := internal.Exists(ctx, storage.RenderedKey(packageid.ID{Name: name, Version: "1.0.0"})); err != nil || !ok {
			t.Fatalf("the publishing job stored no rendered README for %s: %v %v", name, ok, err)
		}
	}

	parses := markdown.Parses()
	body, _ := timedGet(t, s.URL, "/ui/package/fine/1.0.0/", 5*time.Second)
	if !strings.Contains(body, `<h1 id="fine">Fine</h1>`) || !strings.Contains(body, "<table>") {
		t.Errorf("the page does not show the rendered README:\n%.500s", body)
	}
	if n := markdown.Parses() - parses; n != 0 {
		t.Errorf("a page view ran the Markdown parser %d times", n)
	}

	// As a store written before: no record. Three concurrent first views
	// share one render, which is stored.
	older := packageid.ID{Name: "older", Version: "1.0.0"}
	if err := internal.Delete(ctx, storage.RenderedKey(older)); err != nil {
		t.Fatal(err)
	}
	parses = markdown.Parses()
	var wg sync.WaitGroup
	bodies := make([]string, 3)
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bodies[i], _ = timedGet(t, s.URL, "/ui/package/older/1.0.0/", 5*time.Second)
		}()
	}
	wg.Wait()
	for _, b := range bodies {
		if !strings.Contains(b, `<h1 id="fine">Fine</h1>`) {
			t.Errorf("a first view does not show the rendered README:\n%.500s", b)
		}
	}
	if n := markdown.Parses() - parses; n != 1 {
		t.Errorf("three concurrent first views ran the parser %d times, want 1", n)
	}
	data, err := internal.ReadAll(ctx, storage.RenderedKey(older))
	if err != nil {
		t.Fatalf("the first view did not store its render: %v", err)
	}
	rec, err := markdown.UnmarshalRecord(data)
	if err != nil || rec.Readme == nil || !bytes.Contains([]byte(rec.Readme.HTML), []byte(`<h1 id="fine">Fine</h1>`)) {
		t.Errorf("stored record: %v %+v", err, rec)
	}
}
