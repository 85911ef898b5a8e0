package syncv1

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"pkgstore/internal/server"

	"pkgstore/internal/server/servertest"
	"pkgstore/internal/shareddata"
)

// BenchmarkSync migrates the whole v1 sample into a fresh store on
// loopback (file buckets, as pkgstore serve --data) per iteration: HEAD
// probe, zip, sign, upload, publishing job. MB/s counts the revisions'
// uncompressed bytes, as the v1 branch size (2.1 GB) is counted. Client and
// server share the machine's cores.
//
//	go test -bench Sync -run '^$' ./internal/syncv1/
func BenchmarkSync(b *testing.B) {
	for _, backend := range []string{"file", "mem"} {
		b.Run(backend, func(b *testing.B) {
			src := os.Getenv("BENCH_SRC")
			want := 0
			if src == "" {
				src = shareddata.UnpackV1(b)
				want = shareddata.V1Revisions
			}
			size := treeSize(b, filepath.Join(src, "packages"))
			b.SetBytes(size)
			revs := 0
			for b.Loop() {
				b.StopTimer()
				s := servertest.Start(b, servertest.Options{Memory: backend == "mem", Configure: func(c *server.Config) {
					if n, err := strconv.Atoi(os.Getenv("BENCH_WORKERS")); err == nil {
						c.Workers = n
					}
				}})
				b.StartTimer()
				par, _ := strconv.Atoi(os.Getenv("BENCH_PAR"))
				sum, err := Run(context.Background(), Config{Source: src, Client: s.Client, Key: s.Key.Signer, Workers: par})
				if err != nil {
					b.Fatal(err)
				}
				if !sum.OK() || (want > 0 && sum.Published != want) {
					b.Fatalf("published %d, failed %d: %v", sum.Published, len(sum.Failed), sum.Failed)
				}
				revs += sum.Published
				b.StopTimer()
				s.Stop()
				b.StartTimer()
			}
			b.ReportMetric(float64(revs)/b.Elapsed().Seconds(), "revisions/s")
		})
	}
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
