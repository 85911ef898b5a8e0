package indexsig

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/govern/provenance"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/publish/index"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/sigtest"
)

// BenchmarkCommit measures what signing adds to an indexing pass over a
// store of 10,000 revisions (a 30 MB search-index-all.json): "first" builds
// the snapshot from every provenance record, "next" re-issues on top of the
// previous snapshot (the usual pass: a few revisions added).
func BenchmarkCommit(b *testing.B) {
	const n = 10000
	ctx := context.Background()
	bk, err := storage.Open(ctx, storage.Config{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer bk.Close()
	revs := map[packageid.ID]bool{}
	doc := strings.Repeat("x", 3000)
	var all bytes.Buffer
	all.WriteString(`{"packages":[`)
	for i := range n {
		id := packageid.ID{Name: fmt.Sprintf("pkg%05d", i), Version: "1.0.0"}
		revs[id] = true
		if err := provenance.Write(ctx, bk.Internal, api.Revision{Name: id.Name, Version: id.Version, Size: 1234, SHA256: strings.Repeat("ab", 32)}); err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(&all, "\n{\"package_manifest\":{\"name\":%q,\"version\":\"1.0.0\",\"d\":%q}},", id.Name, doc)
	}
	all.WriteString("\n]}\n")
	cursor := "1000000000000000000"
	if err := bk.Internal.WriteAll(ctx, storage.IndexAllKey(cursor), all.Bytes(), nil); err != nil {
		b.Fatal(err)
	}
	key := sigtest.NewKey(b, "index")
	for _, mode := range []string{"first", "next"} {
		b.Run(mode, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				if mode == "first" {
					bk.Internal.Delete(ctx, storage.TrustLatestKey)
					bk.Internal.DeletePrefix(ctx, storage.TrustPrefix)
				}
				is := &Issuer{Buckets: bk, Key: key.Signer, Validity: time.Hour}
				b.StartTimer()
				if err := is.Commit(ctx, index.Commit{Prev: "x", Next: cursor, Revisions: revs}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
