package eprdiff_test

import (
	"path/filepath"
	"testing"

	"pkgstore/internal/eprdiff"
	"pkgstore/internal/shareddata"
)

// eprPackages is EPR's own test packages in EPR's precedence order: the
// zips of local-storage/ (re-signed by the pair's key), then the folders of
// second_package_path/, then package/.
func eprPackages(t *testing.T) *eprdiff.Corpus {
	root := filepath.Join(shareddata.Dir(t), "testdata", "epr-packages")
	c := eprdiff.NewCorpus("epr-packages")
	c.AddZipDir(t, filepath.Join(root, "local-storage"), false)
	c.AddV1Folders(t, filepath.Join(root, "second_package_path"))
	c.AddV1Folders(t, filepath.Join(root, "package"))
	return c
}

func TestEPRPackages(t *testing.T) {
	c := eprPackages(t)
	p := eprdiff.Start(t, c, eprdiff.Options{Legacy: true})
	rep := p.Compare(t, eprdiff.All(p.Revisions()))
	rep.Expect(t, eprdiff.LoadKnown(t, "testdata/known-epr-packages.txt"))
}

// TestV1Sample compares the whole v1 sample (269 revisions, published as
// legacy; the reference runs without package-spec validation). One pair
// serves every list.
func TestV1Sample(t *testing.T) {
	c := eprdiff.NewCorpus("v1-sample")
	c.AddV1Folders(t, filepath.Join(shareddata.UnpackV1(t), "packages"))
	if len(c.Packages) != shareddata.V1Revisions {
		t.Fatalf("%d revisions, want %d", len(c.Packages), shareddata.V1Revisions)
	}
	p := eprdiff.Start(t, c, eprdiff.Options{Legacy: true})
	rep := p.Compare(t, eprdiff.All(p.Revisions()))
	rep.Expect(t, eprdiff.LoadKnown(t, "testdata/known-v1-sample.txt"))
}
