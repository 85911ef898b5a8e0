// Package catalogbench measures index loads for the benchmarks of catalog
// and registry, so that both report the same figures the same way.
package catalogbench

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"pkgstore/internal/registry/catalog"
	"pkgstore/internal/storage"
)

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

// Load loads cursor's index from bucket b.N times and reports the live
// heap of the catalog (MB-heap), the CPU time per load (CPU-s/op) and its
// footprint. The collections that clear the previous iteration's catalog
// run outside the timer. want, when not 0, is the number of revisions the
// index must hold. It returns the last catalog (kept alive for
// -memprofile).
func Load(b *testing.B, bucket *storage.Bucket, cursor string, want int) *catalog.Catalog {
	b.Helper()
	return LoadWith(b, func() (*catalog.Catalog, error) { return catalog.Load(context.Background(), bucket, cursor) }, want)
}

// LoadWith is Load with the load given: load is called b.N times.
func LoadWith(b *testing.B, load func() (*catalog.Catalog, error), want int) *catalog.Catalog {
	b.Helper()
	var heap uint64
	var cpu time.Duration
	var c *catalog.Catalog
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c = nil
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		cpu0 := processCPU(b)
		b.StartTimer()
		var err error
		c, err = load()
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += processCPU(b) - cpu0
		if want != 0 && c.Len() != want {
			b.Fatalf("%d revisions, want %d", c.Len(), want)
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		heap = after.HeapAlloc - min(before.HeapAlloc, after.HeapAlloc)
		b.StartTimer()
	}
	b.ReportMetric(float64(heap)/(1<<20), "MB-heap")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "CPU-s/op")
	d, base := c.Footprint()
	b.Logf("documents %.1f MB compressed (with dictionaries), base JSON %.1f MB", float64(d)/(1<<20), float64(base)/(1<<20))
	return c
}
