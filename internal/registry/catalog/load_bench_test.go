package catalog_test

import (
	"bytes"
	"context"
	"flag"
	"testing"

	"pkgstore/internal/publish/index"
	"pkgstore/internal/registry/catalog"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/catalogbench"
)

var loadStore = flag.String("load-store", "", "data directory of a store whose current index BenchmarkLoadStore loads (e.g. the synthetic 20k store of docs/benchmarks.md)")

// loaded keeps the last catalog alive for a heap profile.
var loaded *catalog.Catalog

// BenchmarkLoadStore loads the current index of a file store, as serve
// does at start, and reports the live heap of the catalog:
//
//	go test ./internal/registry/catalog -run '^$' -bench LoadStore -load-store /tmp/synth20k
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
	// The JSON index, then the catalog snapshot of the same index (made
	// here, untimed, in memory: the store is not written), decoded from
	// memory and from a file.
	b.Run("json", func(b *testing.B) {
		loaded = catalogbench.LoadWith(b, func() (*catalog.Catalog, error) { return catalog.LoadIndex(ctx, bk.Internal, cursor) }, 0)
	})
	want := loaded.Len()
	loaded = nil
	var snap bytes.Buffer
	c, err := catalog.LoadIndex(ctx, bk.Internal, cursor)
	if err != nil {
		b.Fatal(err)
	}
	attrs, err := bk.Internal.Attributes(ctx, storage.IndexAllKey(cursor))
	if err != nil {
		b.Fatal(err)
	}
	id := catalog.IndexIdentity{Size: attrs.Size}
	if err := catalog.EncodeSnapshot(&snap, c, id); err != nil {
		b.Fatal(err)
	}
	c = nil
	b.Logf("index %.1f MB, snapshot %.1f MB", float64(attrs.Size)/(1<<20), float64(snap.Len())/(1<<20))
	b.Run("snapshot", func(b *testing.B) {
		loaded = catalogbench.LoadWith(b, func() (*catalog.Catalog, error) {
			return catalog.DecodeSnapshot(bytes.NewReader(snap.Bytes()), cursor, id)
		}, want)
	})
}
