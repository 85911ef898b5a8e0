package pkgpath_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/registry/pkgpath"
	"pkgstore/internal/testkit/ziptest"
)

// bigDocZips writes n packages whose documents are large and do not
// compress (an asset per file, 3,000 files with random-looking names:
// about 300 KB of document each, none of it in the /search form).
func bigDocZips(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		version := fmt.Sprintf("1.0.%d", i)
		var extra []ziptest.Entry
		for j := range 3000 {
			h := sha256.Sum256(fmt.Appendf(nil, "%d/%d", i, j))
			extra = append(extra, ziptest.Entry{Name: "docs/" + hex.EncodeToString(h[:]) + ".md", Body: []byte("x\n")})
		}
		p := filepath.Join(dir, "big-"+version+".zip")
		if err := os.WriteFile(p, ziptest.Package(t, "big", version, extra...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func heapNow() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestSetKeepsDocumentsInCache: with a cache folder, the set's catalog
// does not hold the packages' documents (the cache file does, and
// /package/NAME/VERSION/ reads them from it); without one it holds them
// compressed. Sixteen packages with about 300 KB of incompressible
// document each (4.5 MiB): the set with a cache must hold at least 3 MiB
// less than the set without, and serve the same documents.
func TestSetKeepsDocumentsInCache(t *testing.T) {
	const n = 16
	dir := bigDocZips(t, n)
	held := func(cfg pkgpath.Config) (*pkgpath.Set, int64) {
		before := heapNow()
		s := open(t, cfg)
		grown := heapNow() - before
		if got := s.Current().Catalog().Len(); got != n {
			t.Fatalf("%d packages served, want %d", got, n)
		}
		return s, grown
	}
	held(pkgpath.Config{Paths: []string{dir}}) // warm up once-per-process state
	inMemory, memHeld := held(pkgpath.Config{Paths: []string{dir}})
	cached, cacheHeld := held(pkgpath.Config{Paths: []string{dir}, CacheDir: t.TempDir()})
	t.Logf("heap held: %d KiB without a cache folder, %d KiB with one", memHeld>>10, cacheHeld>>10)
	if memHeld-cacheHeld < 3<<20 {
		t.Errorf("the set with a cache holds %d KiB, without %d KiB: documents kept in memory", cacheHeld>>10, memHeld>>10)
	}
	for i := range n {
		v := fmt.Sprintf("1.0.%d", i)
		want, got := doc(t, inMemory, "big", v), doc(t, cached, "big", v)
		if got != want {
			t.Fatalf("big-%s: the document read back from the cache differs (%d bytes, want %d)", v, len(got), len(want))
		}
		if len(want) < 250<<10 {
			t.Fatalf("big-%s: document of %d bytes, want the test's large one", v, len(want))
		}
	}
	runtime.KeepAlive(inMemory)
	runtime.KeepAlive(cached)
}

// TestDocumentsWithoutTheirCacheFile: a document the cache file no
// longer gives as written (rewritten, cut, removed while serving) is
// built again from its package, and served only if it is the same; a
// package changed since the scan is ErrChanged until a rescan.
func TestDocumentsWithoutTheirCacheFile(t *testing.T) {
	dir := t.TempDir()
	for _, v := range []string{"1.0.0", "1.1.0"} {
		writeZip(t, dir, "acme", v, nil, false)
	}
	ref := open(t, pkgpath.Config{Paths: []string{dir}})
	want := doc(t, ref, "acme", "1.0.0")
	cache := t.TempDir()
	s := open(t, pkgpath.Config{Paths: []string{dir}, CacheDir: cache})
	if got := doc(t, s, "acme", "1.0.0"); got != want {
		t.Fatalf("from the cache file: %q, want %q", got, want)
	}
	pack := filepath.Join(cache, "packages.pack")
	raw, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		damage func()
	}{
		{"rewritten in place", func() { os.WriteFile(pack, []byte(strings.Repeat("z", len(raw))), 0o644) }},
		{"cut short", func() { os.Truncate(pack, 10) }},
	} {
		os.WriteFile(pack, raw, 0o644)
		c.damage()
		if got := doc(t, s, "acme", "1.0.0"); got != want {
			t.Errorf("cache file %s: %q, want %q", c.name, got, want)
		}
	}
	// The package itself changed, and the cache cannot give the old
	// document: no document rather than another one.
	os.Truncate(pack, 0)
	writeZip(t, dir, "acme", "1.0.0", func(m string) string { return m + "description: changed\n" }, false)
	p, _ := s.Current().Lookup(packageid.ID{Name: "acme", Version: "1.0.0"})
	if _, err := s.Current().Catalog().Document(p.Rev); !errors.Is(err, pkgpath.ErrChanged) {
		t.Errorf("document of a changed package: %v, want ErrChanged", err)
	}
	// A removed cache file is still read through the one the set holds
	// open: the document of the scan, which the catalog describes.
	os.WriteFile(pack, raw, 0o644)
	os.Remove(pack)
	if got := doc(t, s, "acme", "1.0.0"); got != want {
		t.Errorf("cache file removed: %q, want %q", got, want)
	}
}
