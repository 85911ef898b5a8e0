package catalog

import (
	"context"
	"flag"
	"runtime"
	"testing"

	"pkgstore/internal/index"
	"pkgstore/internal/storage"
)

var loadStore = flag.String("load-store", "", "data directory of a store whose current index BenchmarkLoadStore loads (e.g. the synthetic 20k store of docs/benchmarks.md)")

// loaded keeps the last catalog alive for a heap profile.
var loaded *Catalog

// BenchmarkLoadStore loads the current index of a file store, as serve
// does at start, and reports the live heap of the catalog:
//
//	go test ./internal/catalog -run '^$' -bench LoadStore -load-store /tmp/synth20k
//
// It needs no setup beyond the store, so it is the quick loop for load
// work; BenchmarkSynth20kLoad in internal/registry is the reference figure.
func BenchmarkLoadStore(b *testing.B) {
	if *loadStore == "" {
		b.Skip("pass -load-store DIR")
	}
	ctx := context.Background()
	bk, err := storage.Open(ctx, storage.Config{DataDir: *loadStore})
	if err != nil {
		b.Fatal(err)
	}
	defer bk.Close()
	cursor, err := index.ReadCursor(ctx, bk.Internal)
	if err != nil {
		b.Fatal(err)
	}
	var heap uint64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		c, err := Load(ctx, bk.Internal, cursor)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		heap = after.HeapAlloc - min(before.HeapAlloc, after.HeapAlloc)
		loaded = c // kept for -memprofile
		b.StartTimer()
	}
	b.ReportMetric(float64(heap)/(1<<20), "MB-heap")
	d, base := loaded.Footprint()
	b.Logf("documents %.1f MB compressed (with dictionaries), base JSON %.1f MB", float64(d)/(1<<20), float64(base)/(1<<20))
}
