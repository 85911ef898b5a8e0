package catalog

import (
	"context"
	"flag"
	"runtime"
	"syscall"
	"testing"
	"time"

	"pkgstore/internal/index"
	"pkgstore/internal/storage"
)

var loadStore = flag.String("load-store", "", "data directory of a store whose current index BenchmarkLoadStore loads (e.g. the synthetic 20k store of docs/benchmarks.md)")

// processCPU returns the user and system time this process has used (all
// threads, the collector included): on a busy machine ns/op measures the
// machine, the CPU time measures the load.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

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
	var cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		cpu0 := processCPU(b)
		b.StartTimer()
		c, err := Load(ctx, bk.Internal, cursor)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += processCPU(b) - cpu0
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		heap = after.HeapAlloc - min(before.HeapAlloc, after.HeapAlloc)
		loaded = c // kept for -memprofile
		b.StartTimer()
	}
	b.ReportMetric(float64(heap)/(1<<20), "MB-heap")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "CPU-s/op")
	d, base := loaded.Footprint()
	b.Logf("documents %.1f MB compressed (with dictionaries), base JSON %.1f MB", float64(d)/(1<<20), float64(base)/(1<<20))
}
