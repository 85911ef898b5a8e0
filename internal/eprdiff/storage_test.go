package eprdiff_test

import (
	"context"
	"fmt"
	"testing"

	"pkgstore/internal/eprdiff"
	"pkgstore/internal/index"
)

// TestStoragePath has the reference read our GCS buckets through its three
// storage indexers while we publish EPR's test packages in four batches
// (several cursors each), comparing after every batch, after pruning every
// old cursor, and after a batch published on top of the pruned index.
func TestStoragePath(t *testing.T) {
	c := eprPackages(t)
	pkgs := c.Packages
	batches := [][]eprdiff.Package{pkgs[:10], pkgs[10:25], pkgs[25:40], pkgs[40:]}
	s := eprdiff.StartStorage(t, c, eprdiff.Options{Legacy: true}, batches[0], eprdiff.StorageModes)
	reports := make([][]*eprdiff.Report, len(s.Pairs))
	compare := func(step string) {
		for i, p := range s.Pairs {
			rep := p.Compare(t, eprdiff.All(p.Revisions()))
			rep.Corpus = step + "/" + eprdiff.StorageModes[i].Name
			reports[i] = append(reports[i], rep)
		}
	}
	compare("batch1")
	for i, b := range batches[1:3] {
		s.Publish(t, b)
		compare(fmt.Sprintf("batch%d", i+2))
	}
	ix := index.NewIndexer(s.Ours.Ours.Server.Buckets, nil)
	ix.Keep, ix.KeepFor = 1, 0
	if err := ix.Prune(context.Background()); err != nil {
		t.Fatal(err)
	}
	cursors, err := index.ListCursors(context.Background(), s.Ours.Ours.Server.Buckets.Internal, "", "9999999999999999999")
	if err != nil || len(cursors) != 1 {
		t.Fatalf("after pruning: cursors %v, %v; want one", cursors, err)
	}
	s.Reload(t)
	compare("pruned")
	s.Publish(t, batches[3])
	compare("after-prune")
	// One check per mode over every step: an entry is stale only if no
	// step shows it.
	for i, m := range eprdiff.StorageModes {
		t.Run(m.Name, func(t *testing.T) {
			merged := eprdiff.Merge(c.Name+"/"+m.Name, reports[i]...)
			t.Log(merged)
			merged.Expect(t, eprdiff.LoadKnown(t, "testdata/known-storage.txt", "testdata/known-storage-"+m.Name+".txt"))
		})
	}
}
