package syncv1

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"pkgstore/internal/server"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sharedtest"
)

var (
	syncSrc = flag.String("sync-src", "", "BenchmarkSync: migrate this v1 checkout (the folder holding packages/) instead of the v1 sample")
	// LargeRevision is the size from which a revision of the v1 sample
	// counts as production-sized: the production branch averages 1.3 MB
	// per revision (2.5 GB, 1,918 revisions), the sample 134 KB, so the
	// sample's MB/s is bound by per-revision costs that the production
	// branch pays ten times less often per byte.
	largeRevision = flag.Int64("sync-large", 400_000, "BenchmarkSync/*-large: smallest revision, in bytes, of the production-sized selection")
	// The production branch's whole size: -sync-scale 101 makes 101
	// copies of the v1 sample's 19 production-sized revisions (renamed
	// NAME_cK), 1,919 revisions and 2.3 GB, so that what grows with the
	// store (indexer passes, folders, the queue) weighs as it does in the
	// real migration (1,918 revisions).
	syncScale = flag.Int("sync-scale", 0, "BenchmarkSync/file-scaled: copies of the production-sized selection to migrate at once (0: skip)")
)

// BenchmarkSync migrates a v1 checkout into a fresh store on loopback
// (file buckets, as pkgstore serve --data) per iteration: HEAD probe, zip,
// sign, upload, publishing job. MB/s counts the revisions' uncompressed
// bytes, as the v1 branch size is counted; CPU-ms/MB is the process's CPU
// time (client and server, user and system) per MB, steadier than MB/s on
// a shared machine: at 2 cores, 60 MB/s needs at most 33 CPU-ms/MB.
//
//	go test -bench Sync -run '^$' ./internal/client/syncv1/
//
// Sub-benchmarks: file and mem migrate the whole v1 sample (269
// revisions); file-large migrates its production-sized revisions (see
// -sync-large: 19 revisions, 22.7 MB, 1.19 MB each). -sync-src replaces the
// sample, e.g. with a checkout of the production branch.
func BenchmarkSync(b *testing.B) {
	src, want := *syncSrc, 0
	if src == "" {
		src, want = sharedtest.UnpackV1(b), sharedtest.V1Revisions
	}
	large, nLarge := largeSelection(b, src, *largeRevision, 1)
	for _, c := range []struct {
		name string
		src  string
		want int
		mem  bool
	}{
		{"file", src, want, false},
		{"mem", src, want, true},
		{"file-large", large, nLarge, false},
	} {
		b.Run(c.name, func(b *testing.B) { benchSync(b, c.src, c.want, c.mem) })
	}
	if *syncScale > 0 {
		scaled, n := largeSelection(b, src, *largeRevision, *syncScale)
		b.Run("file-scaled", func(b *testing.B) { benchSync(b, scaled, n, false) })
	}
}

func benchSync(b *testing.B, src string, want int, mem bool) {
	size := treeSize(b, filepath.Join(src, "packages"))
	b.SetBytes(size)
	revs := 0
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		s := servertest.Start(b, servertest.Options{Memory: mem, Configure: func(c *server.Config) {
			if n, err := strconv.Atoi(os.Getenv("BENCH_WORKERS")); err == nil {
				c.Workers = n
			}
		}})
		par, _ := strconv.Atoi(os.Getenv("BENCH_PAR"))
		cpu0 := processCPU(b)
		b.StartTimer()
		sum, err := Run(context.Background(), Config{Source: src, Client: s.Client, Key: s.Key.Signer, Workers: par})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += processCPU(b) - cpu0
		if !sum.OK() || (want > 0 && sum.Published != want) {
			b.Fatalf("published %d, failed %d: %v", sum.Published, len(sum.Failed), sum.Failed)
		}
		revs += sum.Published
		s.Stop()
		b.StartTimer()
	}
	b.ReportMetric(float64(revs)/b.Elapsed().Seconds(), "revisions/s")
	b.ReportMetric(float64(cpu.Milliseconds())/(float64(size)*float64(b.N)/1e6), "CPU-ms/MB")
}

// largeSelection links the revisions of src of at least minSize bytes
// into a new v1 checkout, copies times (the first under their own name,
// the others as packages NAME_cK, manifest renamed to match), and returns
// it with its number of revisions.
func largeSelection(tb testing.TB, src string, minSize int64, copies int) (string, int) {
	tb.Helper()
	dirs, err := Revisions(src)
	if err != nil {
		tb.Fatal(err)
	}
	dst := tb.TempDir()
	n := 0
	for _, d := range dirs {
		if treeSize(tb, filepath.Join(src, d)) < minSize {
			continue
		}
		name, version := filepath.Base(filepath.Dir(d)), filepath.Base(d)
		for k := range copies {
			to := filepath.Join(dst, "packages", name, version)
			rename := ""
			if k > 0 {
				rename = name + "_c" + strconv.Itoa(k)
				to = filepath.Join(dst, "packages", rename, version)
			}
			if err := linkRevision(filepath.Join(src, d), to, rename); err != nil {
				tb.Fatal(err)
			}
			n++
		}
	}
	if n == 0 {
		tb.Fatalf("no revision of %s has %d bytes or more", src, minSize)
	}
	return dst, n
}

// linkRevision hard-links the revision folder from into to; when rename is
// set, manifest.yml is copied with its name replaced.
func linkRevision(from, to, rename string) error {
	return filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		out := filepath.Join(to, rel)
		switch {
		case fi.IsDir():
			return os.MkdirAll(out, 0o755)
		case rename != "" && rel == "manifest.yml":
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			re := regexp.MustCompile(`(?m)^name:.*$`)
			return os.WriteFile(out, re.ReplaceAll(b, []byte("name: "+rename)), 0o644)
		}
		if err := os.Link(p, out); err != nil {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(out, b, 0o644)
		}
		return nil
	})
}

// processCPU is the user and system time this process has used.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func treeSize(tb testing.TB, dir string) int64 {
	tb.Helper()
	var n int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}
