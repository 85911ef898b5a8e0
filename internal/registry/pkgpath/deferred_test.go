package pkgpath_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pkgstore/internal/registry/pkgpath"
)

// TestDeferredCache: with DeferCache, Open writes no pack (the start does
// not wait for it) and WriteCache writes the one Open would have written:
// a restart then reads no package and serves the same documents. A write
// cancelled half-way leaves no pack and no temporary file, and costs the
// next start a full scan, never a wrong document; a restart over changed
// folders defers again, and WriteCache then replaces the old pack.
func TestDeferredCache(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"aaa", "bbb", "ccc"} {
		writeZip(t, dir, n, "1.0.0", nil, true)
	}
	writeFolder(t, dir, "ddd/2.0.0", "ddd", "2.0.0", "", nil)
	cfg := pkgpath.Config{Paths: []string{dir}, CacheDir: filepath.Join(t.TempDir(), "c"), DeferCache: true}
	pack := filepath.Join(cfg.CacheDir, "packages.pack")
	cacheFiles := func() []string {
		des, err := os.ReadDir(cfg.CacheDir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, d := range des {
			names = append(names, d.Name())
		}
		return names
	}

	// Cancelled: nothing written, nothing left behind.
	s := open(t, cfg)
	if got := cacheFiles(); len(got) != 0 {
		t.Fatalf("Open with DeferCache wrote %v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.WriteCache(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteCache with a cancelled context: %v, want context.Canceled", err)
	}
	if got := cacheFiles(); len(got) != 0 {
		t.Fatalf("a cancelled WriteCache left %v", got)
	}

	// The next start reads everything again and writes the pack.
	s1 := open(t, cfg)
	if l, r := s1.LastScan(); l != 4 || r != 0 {
		t.Fatalf("after a cancelled write: loaded %d, reused %d; want 4, 0", l, r)
	}
	want := doc(t, s1, "bbb", "1.0.0")
	if err := s1.WriteCache(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := cacheFiles(); len(got) != 1 || got[0] != "packages.pack" {
		t.Fatalf("cache folder holds %v, want only packages.pack", got)
	}
	fi1, err := os.Stat(pack)
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.WriteCache(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(pack); err != nil || !os.SameFile(fi, fi1) {
		t.Fatalf("a second WriteCache wrote the pack again (%v)", err)
	}

	// Restart: nothing read, the same documents, the pack untouched.
	s2 := open(t, cfg)
	if l, r := s2.LastScan(); l != 0 || r != 4 {
		t.Fatalf("restart: loaded %d, reused %d; want 0, 4", l, r)
	}
	if got := doc(t, s2, "bbb", "1.0.0"); got != want {
		t.Fatalf("document from the deferred cache differs:\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(doc(t, s2, "ddd", "2.0.0"), `"path": "/package/ddd/2.0.0"`) {
		t.Fatal("folder package not served from the cache")
	}
	if err := s2.WriteCache(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(pack); err != nil || !os.SameFile(fi, fi1) {
		t.Fatalf("a restart over unchanged folders wrote the cache again (%v)", err)
	}

	// A changed zip: read again, the pack written again by WriteCache.
	writeZip(t, dir, "bbb", "1.0.0", func(m string) string {
		return strings.Replace(m, "A package built by the tests.", "Changed on disk.", 1)
	}, true)
	s3 := open(t, cfg)
	if l, _ := s3.LastScan(); l != 1 {
		t.Fatalf("after a change: loaded %d, want 1", l)
	}
	if err := s3.WriteCache(context.Background()); err != nil {
		t.Fatal(err)
	}
	s4 := open(t, cfg)
	if l, r := s4.LastScan(); l != 0 || r != 4 {
		t.Fatalf("restart after the change: loaded %d, reused %d; want 0, 4", l, r)
	}
	if !strings.Contains(doc(t, s4, "bbb", "1.0.0"), "Changed on disk.") {
		t.Fatal("changed zip served from a stale cache")
	}
}
