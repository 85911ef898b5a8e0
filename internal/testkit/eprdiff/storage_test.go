package eprdiff_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"pkgstore/internal/publish/index"
	"pkgstore/internal/testkit/eprdiff"
	"pkgstore/internal/testkit/sharedtest"
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
	// Every list at the end; before, what the index decides (queries,
	// documents, artifacts, one request of each kind), to keep CI short.
	compare := func(step string, full bool) {
		for i, p := range s.Pairs {
			revs := p.Revisions()
			reqs := eprdiff.All(revs)
			if !full {
				reqs = append(eprdiff.Queries(revs), eprdiff.Documents(revs)...)
				reqs = append(reqs, eprdiff.Artifacts(revs)...)
				reqs = append(reqs, eprdiff.Sample(revs)...)
			}
			rep := p.Compare(t, eprdiff.GetOrHead(reqs))
			rep.Corpus = step + "/" + eprdiff.StorageModes[i].Name
			reports[i] = append(reports[i], rep)
		}
	}
	compare("batch1", false)
	s.Publish(t, batches[1])
	compare("batch2", false)
	// A replica that falls behind: the references sleep while a batch is
	// published (several cursors) and every cursor but the newest is
	// pruned; on waking, an incremental reader finds one cursor after its
	// own and must not apply only that cursor's delta.
	s.Pause(t)
	s.Ours.Publish(t, batches[2])
	ix := index.NewIndexer(s.Ours.Ours.Server.Buckets, nil)
	ix.Keep, ix.KeepFor = 1, 0
	if err := ix.Prune(context.Background()); err != nil {
		t.Fatal(err)
	}
	cursors, err := index.ListCursors(context.Background(), s.Ours.Ours.Server.Buckets.Internal, "", "9999999999999999999")
	if err != nil || len(cursors) != 1 {
		t.Fatalf("after pruning: cursors %v, %v; want one", cursors, err)
	}
	s.Resume(t)
	compare("lagged-pruned", false)
	s.Publish(t, batches[3])
	compare("after-prune", true)
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

// TestStoragePathV1 has the reference's three storage indexers read the
// whole v1 sample from our buckets, published in two batches: the index
// format and deltas with 269 real documents. Static files were compared
// over zips (TestV1Sample) and through the storage endpoint
// (TestStoragePath); here every document and one request of
// each kind, with Fleet's own queries (the query matrix ran over zips).
//
// Publishing 269 revisions with their thousands of static files into the
// emulator takes minutes on 2 cores, so this runs only with EPRDIFF_FULL=1
// (docs/eprdiff.md).
func TestStoragePathV1(t *testing.T) {
	if os.Getenv("EPRDIFF_FULL") == "" {
		t.Skip("set EPRDIFF_FULL=1 to publish the whole v1 sample into the GCS emulator (minutes)")
	}
	c := eprdiff.NewCorpus("v1-sample")
	c.AddV1Folders(t, filepath.Join(sharedtest.UnpackV1(t), "packages"))
	pkgs := c.Packages
	s := eprdiff.StartStorage(t, c, eprdiff.Options{Legacy: true}, pkgs[:150], eprdiff.StorageModes)
	s.Publish(t, pkgs[150:])
	for i, p := range s.Pairs {
		m := eprdiff.StorageModes[i]
		t.Run(m.Name, func(t *testing.T) {
			revs := p.Revisions()
			reqs := append(eprdiff.FleetQueries(revs), eprdiff.Documents(revs)...)
			reqs = append(reqs, eprdiff.Sample(revs)...)
			p.Compare(t, eprdiff.GetOrHead(reqs)).Expect(t, eprdiff.LoadKnown(t, "testdata/known-storage-v1-"+m.Name+".txt"))
		})
	}
}
