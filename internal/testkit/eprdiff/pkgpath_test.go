package eprdiff_test

import (
	"path/filepath"
	"testing"

	"pkgstore/internal/testkit/eprdiff"
	"pkgstore/internal/testkit/sharedtest"
	"pkgstore/internal/testkit/sigtest"
)

// TestPackagePathsEPR serves EPR's own test folders in place on both sides
// (local-storage's zips, second_package_path's and package's NAME/VERSION/
// folders, in EPR's config order): documents, /search, /categories,
// static files from zips and folders, the zips EPR generates for folder
// packages (byte for byte), signatures (a folder package without one: 500
// on both), and HEAD on everything.
func TestPackagePathsEPR(t *testing.T) {
	t.Parallel()
	root := filepath.Join(sharedtest.Dir(t), "testdata", "epr-packages")
	c := eprPackages(t)
	paths := []string{filepath.Join(root, "local-storage"), filepath.Join(root, "second_package_path"), filepath.Join(root, "package")}
	known := eprdiff.LoadKnown(t, "testdata/known-package-paths.txt")
	t.Run("unvalidated", func(t *testing.T) {
		p := eprdiff.StartPackagePaths(t, c, paths, eprdiff.PathsOptions{})
		all := eprdiff.All(p.Revisions())
		rep := p.Compare(t, append(all, eprdiff.Heads(all)...))
		rep.Expect(t, known)
	})
	// EPR's default: its load-time validation on; every one of its test
	// packages passes it, on both sides.
	t.Run("validated", func(t *testing.T) {
		p := eprdiff.StartPackagePaths(t, c, paths, eprdiff.PathsOptions{Validate: true})
		rep := p.Compare(t, eprdiff.Sample(p.Revisions()))
		rep.Expect(t, known)
	})
}

// TestPackagePathsV1Folders serves the v1 sample's NAME/VERSION/ folders in
// place on both sides.
func TestPackagePathsV1Folders(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(sharedtest.UnpackV1(t), "packages")
	c := eprdiff.NewCorpus("v1-folders")
	c.AddV1Folders(t, dir)
	p := eprdiff.StartPackagePaths(t, c, []string{dir}, eprdiff.PathsOptions{})
	rep := p.Compare(t, eprdiff.All(p.Revisions()))
	rep.Expect(t, eprdiff.Known{})
}

// TestPackagePathsV1Zips serves the v1 sample as signed zips in place on
// both sides, signatures required (EPR's default).
func TestPackagePathsV1Zips(t *testing.T) {
	t.Parallel()
	c := eprdiff.NewCorpus("v1-zips")
	c.AddV1Folders(t, filepath.Join(sharedtest.UnpackV1(t), "packages"))
	dir := eprdiff.WriteZipDir(t, c, sigtest.NewKey(t, "zips"))
	p := eprdiff.StartPackagePaths(t, c, []string{dir}, eprdiff.PathsOptions{RequireSignatures: true})
	rep := p.Compare(t, eprdiff.All(p.Revisions()))
	rep.Expect(t, eprdiff.Known{})
}
