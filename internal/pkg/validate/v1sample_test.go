package validate

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// v1Revisions lists packages/NAME/VERSION folders of the extracted v1 sample.
func v1Revisions(tb testing.TB) []string {
	root := filepath.Join(extractShared(tb, "v1-sample.tar.gz"), "packages")
	var out []string
	names, err := os.ReadDir(root)
	if err != nil {
		tb.Fatal(err)
	}
	for _, n := range names {
		vers, err := os.ReadDir(filepath.Join(root, n.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		for _, v := range vers {
			if v.IsDir() {
				out = append(out, filepath.Join(root, n.Name(), v.Name()))
			}
		}
	}
	return out
}

// TestV1Sample validates every revision of the v1 sample: it must never
// panic nor fail with an I/O error; it logs how many revisions pass.
func TestV1Sample(t *testing.T) {
	revs := v1Revisions(t)
	if len(revs) == 0 {
		t.Fatal("no revisions in the v1 sample")
	}
	pass := 0
	reasons := map[string]int{}
	for _, dir := range revs {
		probs, err := Package(context.Background(), os.DirFS(dir), Options{Dir: dir})
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if len(probs) == 0 {
			pass++
			continue
		}
		for _, p := range probs {
			key := p.Message
			if i := strings.IndexAny(key, "\"[("); i > 0 {
				key = key[:i]
			}
			reasons[key]++
		}
	}
	t.Logf("v1 sample: %d/%d revisions pass", pass, len(revs))
	type kv struct {
		k string
		n int
	}
	var top []kv
	for k, n := range reasons {
		top = append(top, kv{k, n})
	}
	sort.Slice(top, func(i, j int) bool { return top[i].n > top[j].n })
	for i := 0; i < len(top) && i < 10; i++ {
		t.Logf("  %5d × %s", top[i].n, top[i].k)
	}
}

func largestV1Revision(tb testing.TB) string {
	best, bestSize := "", int64(-1)
	for _, dir := range v1Revisions(tb) {
		var size int64
		_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if fi, err := d.Info(); err == nil {
					size += fi.Size()
				}
			}
			return nil
		})
		if size > bestSize {
			best, bestSize = dir, size
		}
	}
	return best
}

// BenchmarkLargestV1Package validates the largest revision of the v1 sample
// (target: < 100 ms per validation).
func BenchmarkLargestV1Package(b *testing.B) {
	dir := largestV1Revision(b)
	b.Logf("package: %s", dir)
	fsys := os.DirFS(dir)
	ctx := context.Background()
	// Warm the schema cache once, as a long-running publishing job would.
	if _, err := Package(ctx, fsys, Options{Dir: dir}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Package(ctx, fsys, Options{Dir: dir}); err != nil {
			b.Fatal(err)
		}
	}
}
