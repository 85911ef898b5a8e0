package eprdiff_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"pkgstore/internal/server"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/eprdiff"
	"pkgstore/internal/testkit/eprtest"
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
		revs := p.Revisions()
		rep := p.Compare(t, append(eprdiff.Documents(revs), eprdiff.Queries(revs)...))
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

// TestPackagePathsLayouts: what counts as a package in a package path, on
// both sides: a NAME-VERSION/ folder (the zip layout unpacked) is not one
// for EPR 1.40.1, nor a NAME/VERSION/ folder whose VERSION is not strict
// semver, nor a .zip that is not a zip; a zip deep below the path is.
func TestPackagePathsLayouts(t *testing.T) {
	t.Parallel()
	src := filepath.Join(sharedtest.Dir(t), "testdata", "epr-packages", "package")
	dir := t.TempDir()
	copyTree(t, filepath.Join(src, "example", "1.0.0"), filepath.Join(dir, "example-1.0.0"))
	copyTree(t, filepath.Join(src, "example", "1.0.0"), filepath.Join(dir, "example", "v1.0.0"))
	copyTree(t, filepath.Join(src, "foo", "1.0.0"), filepath.Join(dir, "foo", "1.0.0"))
	// A zip deep below the path (it wins over foo's folder: zips first),
	// and a .zip that is not one.
	foo := t.TempDir()
	copyTree(t, filepath.Join(src, "foo", "1.0.0"), filepath.Join(foo, "foo", "1.0.0"))
	deep := filepath.Join(dir, "deep", "er")
	os.MkdirAll(deep, 0o755)
	for _, b := range eprdiff.BuildV1Folders(t, foo) {
		os.WriteFile(filepath.Join(deep, b.ID.ZipName()), b.Zip, 0o644)
	}
	os.WriteFile(filepath.Join(deep, "bar-9.9.9.zip"), []byte("not a zip"), 0o644)
	// A folder in the signature's place: EPR zips it on the fly as it
	// zips a folder package (ours sent a length of 2^63-1 and no body).
	os.MkdirAll(filepath.Join(deep, "foo-1.0.0.zip.sig", "sub"), 0o755)
	os.WriteFile(filepath.Join(deep, "foo-1.0.0.zip.sig", "sub", "x.txt"), []byte("not a signature\n"), 0o644)
	c := eprdiff.NewCorpus("layouts")
	p := eprdiff.StartPackagePaths(t, c, []string{dir}, eprdiff.PathsOptions{})
	reqs := eprdiff.Get("/search?all=true", "/package/example/1.0.0/", "/package/foo/1.0.0/", "/epr/example/example-1.0.0.zip",
		"/epr/foo/foo-1.0.0.zip", "/epr/foo/foo-1.0.0.zip.sig", "/package/bar/9.9.9/", "/categories")
	reqs = append(reqs, eprdiff.Heads(reqs)...)
	p.Compare(t, reqs).Expect(t, eprdiff.Known{})
	if code, _ := p.Ours.Get(t, "/package/example/1.0.0/"); code != 404 {
		t.Fatalf("NAME-VERSION/ and non-semver folders: /package/example/1.0.0/ answered %d, want 404", code)
	}
	if code, _ := p.Ours.Get(t, "/package/foo/1.0.0/"); code != 200 {
		t.Fatalf("/package/foo/1.0.0/ answered %d, want 200", code)
	}
}

// TestPackagePathsRefusedAlike: what stops EPR's start stops ours.
func TestPackagePathsRefusedAlike(t *testing.T) {
	t.Parallel()
	src := filepath.Join(sharedtest.Dir(t), "testdata", "epr-packages", "package", "foo", "1.0.0")
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, dir string)
		o    eprdiff.PathsOptions
	}{
		{"missing signature", func(*testing.T, string) {}, eprdiff.PathsOptions{RequireSignatures: true}},
		{"no README", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "foo", "1.0.0", "docs", "README.md")) }, eprdiff.PathsOptions{}},
		{"version folder differs", func(t *testing.T, dir string) {
			os.Rename(filepath.Join(dir, "foo", "1.0.0"), filepath.Join(dir, "foo", "1.0.1"))
		}, eprdiff.PathsOptions{Validate: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			copyTree(t, src, filepath.Join(dir, "foo", "1.0.0"))
			tc.edit(t, dir)
			_, refErr := eprtest.Run(t, eprtest.Options{PackagePaths: []string{dir}, RequireSignatures: tc.o.RequireSignatures, Validate: tc.o.Validate})
			if !errors.Is(refErr, eprtest.ErrExited) {
				t.Fatalf("the reference started (%v): the case is wrong", refErr)
			}
			_, err := server.New(t.Context(), server.Config{Storage: storage.Config{DataDir: t.TempDir()}, PackagePaths: []string{dir},
				RequireSignatures: tc.o.RequireSignatures, NoSpecValidation: !tc.o.Validate})
			if err == nil {
				t.Fatal("ours started where the reference refused to")
			}
			t.Logf("ours: %v", err)
		})
	}
}

// copyTree copies a folder (files and folders, writable).
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
