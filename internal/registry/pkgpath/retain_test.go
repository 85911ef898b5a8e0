package pkgpath_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"pkgstore/internal/registry/pkgpath"
)

// TestSetKeepsNoManifest: what a set keeps for each package it serves
// (its name and version, its document) must not hold the text of the
// manifest it was read from. Two sets of 16 packages differ only by a
// 512 KiB comment in each manifest, which no document holds: the set over
// the commented ones must not hold the 8 MiB (the catalog allocates its
// documents' room in slabs of up to a few MiB, hence the margin). The
// manifests hold every field a catalog revision keeps (categories,
// conditions, policy templates, a deprecation notice, discovery), so that
// each of them is checked: one kept string would keep its whole manifest.
// Their values differ from package to package, as the catalog interns
// (keeps the first of) equal strings.
func TestSetKeepsNoManifest(t *testing.T) {
	comment := strings.Repeat("# "+strings.Repeat("x", 98)+"\n", 512<<10/100)
	const n = 16
	const kept = `policy_templates:
  - name: pt%[1]d
    title: A template
    description: Its description.
    categories:
      - security
deprecated:
  since: 1.0.%[1]d
  description: Replaced %[1]d.
  replaced_by:
    package: newer%[1]d
discovery:
  fields:
    - name: host.name%[1]d
  datasets:
    - name: big.log%[1]d
`
	rich := func(m string, i int) string {
		// Plain scalars: a quoted one is a copy already.
		m = strings.Replace(m, `version: "^8.0.0"`, fmt.Sprintf("version: ^8.0.%d", i), 1)
		return strings.Replace(m, "  elastic:\n    subscription: basic\n",
			fmt.Sprintf("  agent:\n    version: ^8.1.%[1]d\n  elastic:\n    subscription: basic\n    capabilities:\n      - cap%[1]d\n", i), 1) + fmt.Sprintf(kept, i)
	}
	folder := func(extra string) string {
		dir := t.TempDir()
		for i := range n {
			writeZip(t, dir, "big", fmt.Sprintf("1.0.%d", i), func(m string) string { return rich(m, i) + extra }, false)
		}
		return dir
	}
	plain, commented := folder(""), folder(comment)
	heap := func() int64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	// held is what the heap holds while a set over dir is open. The
	// first Open also sets up what loading does once per process
	// (reflection caches, compiled expressions): warm that up first.
	held := func(dir string) int64 {
		before := heap()
		s := open(t, pkgpath.Config{Paths: []string{dir}})
		grown := heap() - before
		if got := s.Current().Catalog().Len(); got != n {
			t.Fatalf("%d packages served, want %d", got, n)
		}
		runtime.KeepAlive(s)
		return grown
	}
	held(plain)
	p, c := held(plain), held(commented)
	t.Logf("heap held by the set: %d KiB without the comments, %d KiB with them", p>>10, c>>10)
	if c-p > 2<<20 {
		t.Errorf("the set holds %d KiB more with %d KiB of comments in the manifests: manifests kept", (c-p)>>10, n*len(comment)>>10)
	}
}
