package server_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/builder"
	"pkgstore/internal/govern/yank"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/treetest"
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
	var body string
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, b := s.Get(t, "/ui/package/rec/1.1.0/")
		body = string(b)
		// Marked at once; listed without a page once the index has
		// moved and dropped it.
		if code == 200 && strings.Contains(body, `<span class="muted">1.0.0</span>`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the yank never showed: %d\n%s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"badge-yanked", "broken ingest pipeline", "SHA-256", s.Key.Fingerprint} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
