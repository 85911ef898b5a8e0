package main

import (
	"context"
	"testing"

	"pkgstore/internal/registry/catalog"
	"pkgstore/internal/storage"
)

// prodSnapshot returns the catalog snapshot of cursor's index in src, made
// in a memory bucket (src, the cached corpus, is shared and never
// written).
func prodSnapshot(b *testing.B, src *storage.Bucket, cursor string) []byte {
	b.Helper()
	ctx := context.Background()
	mem, err := storage.Open(ctx, storage.Config{PublicURL: "mem://", InternalURL: "mem://"})
	if err != nil {
		b.Fatal(err)
	}
	defer mem.Close()
	rd, err := src.NewReader(ctx, storage.IndexAllKey(cursor))
	if err != nil {
		b.Fatal(err)
	}
	defer rd.Close()
	if err := mem.Internal.WriteFile(ctx, storage.IndexAllKey(cursor), rd, nil); err != nil {
		b.Fatal(err)
	}
	if err := catalog.WriteSnapshot(ctx, mem.Internal, cursor); err != nil {
		b.Fatal(err)
	}
	snap, err := mem.Internal.ReadAll(ctx, storage.IndexSnapshotKey(cursor))
	if err != nil {
		b.Fatal(err)
	}
	return snap
}
