package ui_test

import (
	"regexp"
	"strings"
	"testing"

	"pkgstore/internal/registry/ui"
)

// TestV1Pages opens the page of every v1 revision: each renders, holds
// nothing that runs in its README, shows the README, and every image it
// shows is one of the registry's static files that answers 200.
func TestV1Pages(t *testing.T) {
	f := v1Store(t)
	srcRe := regexp.MustCompile(`<img[^>]*\ssrc="([^"]+)"`)
	seen := map[string]bool{}
	revs := f.store.Server.Registry.Catalog().Revisions()
	if len(revs) < 269 {
		t.Fatalf("%d revisions in the catalog", len(revs))
	}
	for _, r := range revs {
		url := "/ui/package/" + r.ID.Name + "/" + r.ID.Version + "/"
		resp, body := get(t, f.store.URL, "GET", url, nil)
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", url, resp.StatusCode)
			continue
		}
		if _, readme, ok := strings.Cut(body, `<article class="markdown">`); ok {
			readme, _, _ = strings.Cut(readme, "</article>")
			if m := ui.UnsafeMarkup(readme); m != "" {
				t.Errorf("%s: README holds %s", url, m)
			}
		}
		if !strings.Contains(body, `<article class="markdown">`) && !strings.Contains(body, "has no README") {
			t.Errorf("%s: README neither rendered nor reported missing", url)
		}
		for _, m := range srcRe.FindAllStringSubmatch(body, -1) {
			src := m[1]
			if src != "/ui/assets/package.svg" && !strings.HasPrefix(src, "/package/"+r.ID.Name+"/"+r.ID.Version+"/") {
				t.Errorf("%s: image %s is not one of its files", url, src)
			}
			if seen[src] {
				continue
			}
			seen[src] = true
			if resp, img := get(t, f.store.URL, "GET", src, nil); resp.StatusCode != 200 || len(img) == 0 {
				t.Errorf("%s: image %s answers %d", url, src, resp.StatusCode)
			}
		}
	}
	t.Logf("%d pages, %d distinct images", len(revs), len(seen))
}
