package server_test

import (
	"bytes"
	"context"
	"fmt"
	"pkgstore/internal/api"
	"sync/atomic"
	"testing"
	"time"

	"pkgstore/internal/client"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/ziptest"
)

type signedZip struct {
	file     string
	version  string
	zip, sig []byte
}

func prepare(b *testing.B, s *servertest.Store, prefix string, n int) []signedZip {
	b.Helper()
	out := make([]signedZip, n)
	for i := range out {
		v := fmt.Sprintf("1.%d.%d", i/1000, i%1000)
		z := ziptest.Package(b, "bench", v, ziptest.Entry{Name: "docs/" + prefix + ".md", Body: []byte(prefix)})
		out[i] = signedZip{file: "bench-" + v + ".zip", version: v, zip: z, sig: s.Key.Sign(b, z)}
	}
	return out
}

// BenchmarkPublishToVisible measures one publication on the file backend,
// from the upload's first byte until /package/N/V/ answers 200: upload,
// every check, the writes, indexing and the registry's reload.
//
//	go test -run '^$' -bench PublishToVisible -benchtime 200x ./internal/server/
func BenchmarkPublishToVisible(b *testing.B) {
	s := servertest.Start(b, servertest.Options{})
	zips := prepare(b, s, "serial", b.N)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		z := zips[i]
		sub, err := s.Client.Publish(ctx, z.file, bytes.NewReader(z.zip), z.sig, client.Options{Legacy: true})
		if err != nil || sub.Status != api.StatusPublished {
			b.Fatalf("publish: %v %+v", err, sub)
		}
		s.WaitVisible(b, "bench", z.version)
	}
}

// BenchmarkPublishParallel measures publications per second with many
// concurrent publishers (distinct versions) on the file backend; every
// package is visible before the clock stops.
//
//	go test -run '^$' -bench PublishParallel -benchtime 400x ./internal/server/
func BenchmarkPublishParallel(b *testing.B) {
	s := servertest.Start(b, servertest.Options{})
	zips := prepare(b, s, "parallel", b.N)
	var next atomic.Int64
	ctx := context.Background()
	b.SetParallelism(4)
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			z := zips[next.Add(1)-1]
			sub, err := s.Client.Publish(ctx, z.file, bytes.NewReader(z.zip), z.sig, client.Options{Legacy: true})
			if err != nil || sub.Status != api.StatusPublished {
				b.Errorf("publish: %v %+v", err, sub)
				return
			}
		}
	})
	for _, z := range zips {
		s.WaitVisible(b, "bench", z.version)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "publishes/s")
}
