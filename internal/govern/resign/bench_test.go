package resign_test

import (
	"archive/zip"
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	"pkgstore/internal/govern/resign"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/ziptest"
)

// BenchmarkResign re-signs 24 revisions of 1 MiB (incompressible) on file
// buckets per iteration, alternating two store keys so that every
// revision is re-signed each time: read, sha256, verify the served
// signature, sign, verify the new one, write records and signature, sync.
func BenchmarkResign(b *testing.B) {
	f := newFixture(b)
	keys := []*sigtest.Key{sigtest.NewKey(b, "k0"), sigtest.NewKey(b, "k1")}
	const n, size = 24, 1 << 20
	for i := range n {
		body := make([]byte, size)
		rand.Read(body)
		name := fmt.Sprintf("bench%02d", i)
		f.publishWith(name, ziptest.Package(b, name, "1.0.0", ziptest.Entry{Name: name + "-1.0.0/data.bin", Body: body, Method: zip.Store}), keys[1], true)
	}
	trusted := signature.Merge(keys[0].Keyring, keys[1].Keyring)
	b.SetBytes(n * size)
	b.ResetTimer()
	for i := range b.N {
		res, err := resign.Run(context.Background(), resign.Config{Buckets: f.b, Key: keys[i%2].Signer, Trusted: trusted})
		if err != nil || res.Resigned != n {
			b.Fatalf("run %d: %+v %v", i, res, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "revisions/s")
}
