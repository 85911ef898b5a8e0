package server_test

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/builder"
	"pkgstore/internal/client"
	"pkgstore/internal/govern/yank"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/treetest"
	"pkgstore/internal/testkit/ziptest"
)

// TestUIShowsStoreRecords: the web catalog of a running store shows the
// provenance record of a revision (sha256, signing key) and marks a
// yanked version, which the index no longer lists.
func TestUIShowsStoreRecords(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Memory: true})
	dir := t.TempDir()
	manifest := func(v string) string {
		return "format_version: 1.0.0\nname: rec\ntitle: Records\ndescription: d\nversion: " + v + "\ntype: integration\nrelease: ga\n"
	}
	treetest.Write(t, dir, map[string]string{
		"rec/1.0.0/manifest.yml": manifest("1.0.0"), "rec/1.0.0/docs/README.md": "# one\n",
		"rec/1.1.0/manifest.yml": manifest("1.1.0"), "rec/1.1.0/docs/README.md": "# two\n",
	})
	var zips []servertest.Zip
	for _, v := range []string{"1.0.0", "1.1.0"} {
		var buf bytes.Buffer
		id, _, err := builder.WriteV1(context.Background(), &buf, filepath.Join(dir, "rec", v))
		if err != nil {
			t.Fatal(err)
		}
		zips = append(zips, servertest.Zip{ID: id, Data: buf.Bytes()})
	}
	s.PublishZips(t, zips)
	if _, _, err := s.Server.Yanks.Set(context.Background(), yank.Change{ID: packageid.ID{Name: "rec", Version: "1.0.0"}, Yank: true, Reason: "broken ingest pipeline"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		// Wait until the index has moved and dropped the yanked version.
		code, b := s.Get(t, "/search?package=rec&all=true")
		if code == 200 && !strings.Contains(string(b), `"1.0.0"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the yank never left the index: %d\n%s", code, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, b := s.Get(t, "/ui/package/rec/1.1.0/")
	body := string(b)
	if code != 200 {
		t.Fatalf("latest page: %d\n%s", code, body)
	}
	for _, want := range []string{"badge-yanked", "broken ingest pipeline", "SHA-256", s.Key.Fingerprint, `<a href="/ui/package/rec/1.0.0/">1.0.0</a>`} {
		if !strings.Contains(body, want) {
			t.Errorf("latest page lacks %q", want)
		}
	}
	// The yanked version keeps its page, as the registry keeps serving
	// it: a banner says it is yanked, why and since when; its downloads
	// stay.
	code, b = s.Get(t, "/ui/package/rec/1.0.0/")
	body = string(b)
	if code != 200 {
		t.Fatalf("yanked version's page: %d, want 200\n%s", code, body)
	}
	for _, want := range []string{`class="notice notice-yanked"`, "This version was yanked on <time datetime=\"20", "Reason: broken ingest pipeline",
		`href="/ui/package/rec/1.1.0/">version 1.1.0</a>`, `href="/epr/rec/rec-1.0.0.zip"`, `aria-current="page">1.0.0</a>`, "SHA-256"} {
		if !strings.Contains(body, want) {
			t.Errorf("yanked version's page lacks %q", want)
		}
	}
	if strings.Contains(body, "This is not the latest version") {
		t.Error("yanked version's page also says it is not the latest: the banner says more")
	}
	if code, _ := s.Get(t, "/epr/rec/rec-1.0.0.zip"); code != 200 {
		t.Errorf("the yanked version's zip: %d", code)
	}
}

// TestUIScreenshotsAreImages: a screenshot is shown only when its file is
// an image type (the catalog's allow-list), and linked on its own only when
// a README could link to it too (the same allow-list, which leaves SVG
// out): a manifest naming /img/page.html as a screenshot gets neither an
// <img> nor a link to it.
func TestUIScreenshotsAreImages(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Memory: true})
	shots := []string{"page.html", "page.htm", "script.js", "shot.png", "photo.JPG", "vector.svg", "anim.gif", "noext", "shot.png.html"}
	zip := ziptest.SortedPackage(t, "shots", "1.0.0", func(m string) string {
		m += "screenshots:\n"
		for _, f := range shots {
			m += "  - src: /img/" + f + "\n    title: " + f + " shot\n"
		}
		return m
	})
	// The screenshots' files, added under the package root.
	var extra []ziptest.Entry
	for _, f := range shots {
		extra = append(extra, ziptest.Entry{Name: "shots-1.0.0/img/" + f, Body: []byte("<html><script>alert(1)</script></html>")})
	}
	zip = addEntries(t, zip, extra)
	if sub := s.Publish(t, "shots-1.0.0.zip", zip, client.Options{Legacy: true}); sub.Status != api.StatusPublished {
		t.Fatalf("publish: %s %+v", sub.Status, sub.Reasons)
	}
	s.WaitVisible(t, "shots", "1.0.0")
	code, b := s.Get(t, "/ui/package/shots/1.0.0/")
	if code != 200 {
		t.Fatalf("package page: %d\n%s", code, b)
	}
	body := string(b)
	const base = "/package/shots/1.0.0/img/"
	for _, tc := range []struct {
		file         string
		shown, links bool
	}{
		{"page.html", false, false},
		{"page.htm", false, false},
		{"script.js", false, false},
		{"noext", false, false},
		{"shot.png.html", false, false},
		{"shot.png", true, true},
		{"photo.JPG", true, true},
		{"anim.gif", true, true},
		{"vector.svg", true, false},
	} {
		img := `<img src="` + base + tc.file + `"`
		link := `<a href="` + base + tc.file + `"`
		if got := strings.Contains(body, img); got != tc.shown {
			t.Errorf("%s: shown %v, want %v", tc.file, got, tc.shown)
		}
		if got := strings.Contains(body, link); got != tc.links {
			t.Errorf("%s: linked %v, want %v", tc.file, got, tc.links)
		}
	}
}

// addEntries appends entries to a zip.
func addEntries(t *testing.T, data []byte, extra []ziptest.Entry) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var es []ziptest.Entry
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, ziptest.Entry{Name: f.Name, Body: body})
	}
	return ziptest.Build(t, append(es, extra...)...)
}
