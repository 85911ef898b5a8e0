package catalog_test

import (
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
	loaded = catalogbench.Load(b, bk.Internal, cursor, 0)
}
