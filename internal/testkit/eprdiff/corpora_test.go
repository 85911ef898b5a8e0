package eprdiff_test

import (
	"path/filepath"
	"testing"

	"pkgstore/internal/server"
	"pkgstore/internal/testkit/eprdiff"
	"pkgstore/internal/testkit/eprtest"
	"pkgstore/internal/testkit/sharedtest"
)

// eprPackages is EPR's own test packages in EPR's precedence order: the
// zips of local-storage/ (re-signed by the pair's key), then the folders of
// second_package_path/, then package/.
func eprPackages(t *testing.T) *eprdiff.Corpus {
	root := filepath.Join(sharedtest.Dir(t), "testdata", "epr-packages")
	c := eprdiff.NewCorpus("epr-packages")
	c.AddZipDir(t, filepath.Join(root, "local-storage"), false)
	c.AddV1Folders(t, filepath.Join(root, "second_package_path"))
	c.AddV1Folders(t, filepath.Join(root, "package"))
	return c
}

// TestEPRPackages compares every request list, and HEAD on every one of
// them, over EPR's test packages; then /search and /categories again with
// unknown query parameters refused on both sides.
func TestEPRPackages(t *testing.T) {
	t.Parallel()
	c := eprPackages(t)
	known := eprdiff.LoadKnown(t, "testdata/known-epr-packages.txt")
	t.Run("default", func(t *testing.T) {
		p := eprdiff.Start(t, c, eprdiff.Options{Legacy: true})
		all := eprdiff.All(p.Revisions())
		rep := p.Compare(t, append(all, eprdiff.Heads(all)...))
		rep.Expect(t, known)
	})
	t.Run("strict", func(t *testing.T) {
		p := eprdiff.Start(t, c, eprdiff.Options{
			Legacy:    true,
			Configure: func(cfg *server.Config) { cfg.Registry.AllowUnknownQueryParams = false },
			EPR:       eprtest.Options{Args: []string{"-allow-unknown-query-parameters=false"}},
		})
		rep := p.Compare(t, eprdiff.Queries(p.Revisions()))
		rep.Expect(t, known)
	})
}

// TestV1Sample compares the whole v1 sample (269 revisions, published as
// legacy; the reference runs without package-spec validation). One pair
// serves every list.
func TestV1Sample(t *testing.T) {
	t.Parallel()
	c := eprdiff.NewCorpus("v1-sample")
	c.AddV1Folders(t, filepath.Join(sharedtest.UnpackV1(t), "packages"))
	if len(c.Packages) != sharedtest.V1Revisions {
		t.Fatalf("%d revisions, want %d", len(c.Packages), sharedtest.V1Revisions)
	}
	p := eprdiff.Start(t, c, eprdiff.Options{Legacy: true})
	rep := p.Compare(t, eprdiff.All(p.Revisions()))
	rep.Expect(t, eprdiff.Known{})
}
