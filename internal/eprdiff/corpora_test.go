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
