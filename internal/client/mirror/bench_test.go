package mirror_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"pkgstore/internal/client"
	"pkgstore/internal/client/mirror"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/ziptest"
)

// benchUpstream is a pkgstore holding 24 revisions of about 1 MiB each
// (incompressible content, as icons and screenshots are).
func benchUpstream(b *testing.B) (*servertest.Store, *sigtest.Key, int64) {
	b.Helper()
	key := sigtest.NewKey(b, "upstream")
	up := servertest.Start(b, servertest.Options{Key: key})
	var total int64
	for i := range 24 {
		blob := make([]byte, 1<<20)
		_, _ = rand.Read(blob)
		name, version := fmt.Sprintf("pkg%02d", i/2), fmt.Sprintf("1.%d.0", i%2)
		z := ziptest.Package(b, name, version, ziptest.Entry{Name: "img/screenshot.png", Body: blob, Store: true})
		total += int64(len(z))
		if sub := up.Publish(b, name+"-"+version+".zip", z, client.Options{Legacy: true}); sub.Status != "published" {
			b.Fatalf("publish: %+v", sub)
		}
	}
	up.WaitVisible(b, "pkg11", "1.1.0")
	return up, key, total
}

func report(b *testing.B, sum *mirror.Summary, secs float64) {
	b.ReportMetric(float64(sum.Bytes)/1e6/secs, "MB/s")
	b.ReportMetric(float64(sum.Transferred)/secs, "revisions/s")
}

// BenchmarkMirrorBundle: download, verify and bundle every version.
func BenchmarkMirrorBundle(b *testing.B) {
	up, key, total := benchUpstream(b)
	dir := b.TempDir()
	var secs float64
	var last *mirror.Summary
	for i := 0; b.Loop(); i++ {
		bundle := filepath.Join(dir, fmt.Sprintf("b%d.bundle", i))
		sum, err := mirror.Run(context.Background(), mirror.Config{From: up.URL, Filters: mirror.Filters{AllVersions: true}, Keyring: key.Keyring, Bundle: bundle})
		if err != nil || !sum.OK() || sum.Transferred != 24 {
			b.Fatalf("%v %+v", err, sum)
		}
		secs += sum.Elapsed.Seconds()
		last = sum
		if i == 0 {
			fi, _ := os.Stat(bundle)
			b.Logf("bundle %d bytes, zips %d bytes (+%.2f%%)", fi.Size(), total, 100*float64(fi.Size()-total)/float64(total))
		}
		os.Remove(bundle)
	}
	sum := *last
	sum.Bytes, sum.Transferred = last.Bytes*int64(b.N), last.Transferred*b.N
	report(b, &sum, secs)
}

// BenchmarkMirrorToStore: download, verify and publish every version into
// another store (file buckets).
func BenchmarkMirrorToStore(b *testing.B) {
	up, key, _ := benchUpstream(b)
	var secs float64
	var bytes int64
	var revs int
	for b.Loop() {
		b.StopTimer()
		target := servertest.Start(b, servertest.Options{Key: key})
		b.StartTimer()
		sum, err := mirror.Run(context.Background(), mirror.Config{From: up.URL, Filters: mirror.Filters{AllVersions: true}, Keyring: key.Keyring, To: target.Client})
		if err != nil || !sum.OK() || sum.Transferred != 24 {
			b.Fatalf("%v %+v", err, sum)
		}
		secs += sum.Elapsed.Seconds()
		bytes += sum.Bytes
		revs += sum.Transferred
		b.StopTimer()
		target.Stop()
		b.StartTimer()
	}
	report(b, &mirror.Summary{Bytes: bytes, Transferred: revs}, secs)
}
