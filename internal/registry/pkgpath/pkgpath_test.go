package pkgpath_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/registry/catalog"
	"pkgstore/internal/registry/pkgpath"
	"pkgstore/internal/testkit/ziptest"
)

func writeZip(t *testing.T, dir, name, version string, edit func(string) string, sig bool) string {
	t.Helper()
	p := filepath.Join(dir, name+"-"+version+".zip")
	if err := os.WriteFile(p, ziptest.SortedPackage(t, name, version, edit), 0o644); err != nil {
		t.Fatal(err)
	}
	if sig {
		if err := os.WriteFile(p+".sig", []byte("-----BEGIN PGP SIGNATURE-----\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// writeFolder unpacks a small package as dir/NAME/VERSION/ (or at the
// folder given by at, relative to dir).
func writeFolder(t *testing.T, dir, at, name, version string, skip string, edit func(string) string) string {
	t.Helper()
	root := filepath.Join(dir, at)
	for _, e := range ziptest.PackageEntries(name, version) {
		rel := strings.TrimPrefix(e.Name, name+"-"+version+"/")
		if rel == "" || strings.HasSuffix(rel, "/") || rel == skip {
			continue
		}
		body := e.Body
		if rel == "manifest.yml" && edit != nil {
			body = []byte(edit(string(body)))
		}
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func open(t *testing.T, cfg pkgpath.Config) *pkgpath.Set {
	t.Helper()
	s, err := pkgpath.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func doc(t *testing.T, s *pkgpath.Set, name, version string) string {
	t.Helper()
	src := s.Current()
	p, ok := src.Lookup(packageid.ID{Name: name, Version: version})
	if !ok {
		t.Fatalf("%s-%s not served", name, version)
	}
	d, err := src.Catalog().Document(p.Rev)
	if err != nil {
		t.Fatal(err)
	}
	return string(d)
}

// TestCacheReusedOnRestart: a restart over unchanged folders reads no
// package again and serves the same documents; a changed zip is read
// again; a damaged cache costs a full scan, not the start.
func TestCacheReusedOnRestart(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"aaa", "bbb", "ccc"} {
		writeZip(t, dir, n, "1.0.0", nil, true)
	}
	writeFolder(t, dir, "ddd/2.0.0", "ddd", "2.0.0", "", nil)
	cfg := pkgpath.Config{Paths: []string{dir}, CacheDir: filepath.Join(t.TempDir(), "c")}
	s1 := open(t, cfg)
	if l, r := s1.LastScan(); l != 4 || r != 0 {
		t.Fatalf("first scan: loaded %d, reused %d; want 4, 0", l, r)
	}
	before := doc(t, s1, "bbb", "1.0.0")
	pack := filepath.Join(cfg.CacheDir, "packages.pack")
	fi1, err := os.Stat(pack)
	if err != nil {
		t.Fatal(err)
	}
	s2 := open(t, cfg)
	if l, r := s2.LastScan(); l != 0 || r != 4 {
		t.Fatalf("restart: loaded %d, reused %d; want 0, 4", l, r)
	}
	if fi2, err := os.Stat(pack); err != nil || !os.SameFile(fi1, fi2) || fi2.Size() != fi1.Size() {
		t.Fatalf("a restart over unchanged folders wrote the cache again (%v)", err)
	}
	if got := doc(t, s2, "bbb", "1.0.0"); got != before {
		t.Fatalf("document from the cache differs:\n%s\nwant\n%s", got, before)
	}
	if !strings.Contains(doc(t, s2, "ddd", "2.0.0"), `"path": "/package/ddd/2.0.0"`) {
		t.Fatal("folder package not served from the cache")
	}
	// A changed zip (new content, new size and time) is read again.
	writeZip(t, dir, "bbb", "1.0.0", func(m string) string {
		return strings.Replace(m, "A package built by the tests.", "Changed on disk.", 1)
	}, true)
	s3 := open(t, cfg)
	if l, _ := s3.LastScan(); l != 1 {
		t.Fatalf("after a change: loaded %d, want 1", l)
	}
	if !strings.Contains(doc(t, s3, "bbb", "1.0.0"), "Changed on disk.") {
		t.Fatal("changed zip served from a stale cache")
	}
	// One file, whatever the number of packages (creating one per
	// package was a quarter of a first start); old per-package files and
	// temporary packs are removed.
	os.WriteFile(filepath.Join(cfg.CacheDir, "0123.json"), []byte("{}"), 0o644)
	os.WriteFile(filepath.Join(cfg.CacheDir, ".packages.pack.1.tmp"), []byte("{}"), 0o644)
	if l, _ := open(t, cfg).LastScan(); l != 0 {
		t.Fatalf("restart after a change: loaded %d, want 0", l)
	}
	des, _ := os.ReadDir(cfg.CacheDir)
	if len(des) != 1 || des[0].Name() != "packages.pack" {
		t.Fatalf("cache folder holds %v, want only packages.pack", des)
	}
	if err := os.WriteFile(filepath.Join(cfg.CacheDir, des[0].Name()), []byte(`{"options":`), 0o644); err != nil {
		t.Fatal(err)
	}
	s4 := open(t, cfg)
	if l, _ := s4.LastScan(); l != 4 {
		t.Fatalf("damaged cache: loaded %d, want 4", l)
	}
	if l, _ := open(t, cfg).LastScan(); l != 0 {
		t.Fatalf("after a damaged cache was written again: loaded %d, want 0", l)
	}
}

// TestCacheAppendedByRescan: what a watcher's rescan reads is appended to
// the cache, so that the next start reads it from there; a record cut
// short at the end (a crash during an append) costs only its package.
func TestCacheAppendedByRescan(t *testing.T) {
	dir := t.TempDir()
	writeZip(t, dir, "aaa", "1.0.0", nil, true)
	cfg := pkgpath.Config{Paths: []string{dir}, CacheDir: filepath.Join(t.TempDir(), "c")}
	s := open(t, cfg)
	writeZip(t, dir, "bbb", "1.0.0", nil, true)
	if changed, err := s.Rescan(context.Background(), false); err != nil || !changed {
		t.Fatalf("rescan: changed %v, %v", changed, err)
	}
	want := doc(t, s, "bbb", "1.0.0")
	s2 := open(t, cfg)
	if l, r := s2.LastScan(); l != 0 || r != 2 {
		t.Fatalf("restart after a rescan: loaded %d, reused %d; want 0, 2", l, r)
	}
	if got := doc(t, s2, "bbb", "1.0.0"); got != want {
		t.Fatalf("appended document differs:\n%s\nwant\n%s", got, want)
	}
	// Append bbb again by hand, cut short: aaa is still used.
	pack := filepath.Join(cfg.CacheDir, "packages.pack")
	data, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte(`{"v":1,"options":"v2 validate=false","path":"`+filepath.Join(dir, "bbb")))
	if i < 0 {
		t.Fatalf("no record of bbb in\n%s", data)
	}
	torn := append(append([]byte(nil), data...), data[i:len(data)-10]...)
	if err := os.WriteFile(pack, torn, 0o644); err != nil {
		t.Fatal(err)
	}
	s3 := open(t, cfg)
	if l, _ := s3.LastScan(); l != 0 {
		t.Fatalf("torn last record: loaded %d, want 0 (the whole records before it serve)", l)
	}
	if got := doc(t, s3, "bbb", "1.0.0"); got != want {
		t.Fatalf("document differs after a torn append:\n%s\nwant\n%s", got, want)
	}
	if fi, err := os.Stat(pack); err != nil || fi.Size() != int64(len(data)) {
		t.Fatalf("pack with a torn record not written again: %v, size %d, want %d", err, fi.Size(), len(data))
	}
	// A whole record whose document is damaged: the package is read
	// again and its record appended, then the pack compacted.
	data, _ = os.ReadFile(pack)
	j := bytes.Index(data, []byte("\n{")) + 1
	data[j] = 'x'
	os.WriteFile(pack, data, 0o644)
	if l, _ := open(t, cfg).LastScan(); l != 1 {
		t.Fatalf("damaged document: loaded %d, want 1", l)
	}
	if l, _ := open(t, cfg).LastScan(); l != 0 {
		t.Fatalf("after a damaged document was read again: loaded %d, want 0", l)
	}
	if fi, err := os.Stat(pack); err != nil || fi.Size() != int64(len(data)) {
		t.Fatalf("pack not compacted: %v, size %d, want %d", err, fi.Size(), len(data))
	}
}

// TestTornCacheFileIsAMiss: a crash can leave the cache file cut at any
// length, or zeros where its data never reached the disk: every such file
// must be only a miss, the package read again with the same document,
// never a wrong document served.
func TestTornCacheFileIsAMiss(t *testing.T) {
	dir := t.TempDir()
	writeZip(t, dir, "aaa", "1.0.0", nil, true)
	cfg := pkgpath.Config{Paths: []string{dir}, CacheDir: filepath.Join(t.TempDir(), "c")}
	want := doc(t, open(t, cfg), "aaa", "1.0.0")
	des, err := os.ReadDir(cfg.CacheDir)
	if err != nil || len(des) != 1 {
		t.Fatalf("cache folder: %v, %d files; want 1", err, len(des))
	}
	name := filepath.Join(cfg.CacheDir, des[0].Name())
	whole, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	// Cut at every length of the header line and at every 7th of the
	// document, up to the whole file less its final newline (that file
	// is complete); and the same lengths of zeros.
	head := bytes.IndexByte(whole, '\n')
	for n := 0; n < len(whole)-1; n++ {
		if n > head+1 && n%7 != 0 {
			continue
		}
		for _, torn := range [][]byte{whole[:n], make([]byte, n)} {
			if err := os.WriteFile(name, torn, 0o644); err != nil {
				t.Fatal(err)
			}
			s := open(t, cfg)
			if l, _ := s.LastScan(); l != 1 {
				t.Fatalf("cache file cut at %d of %d bytes (zeros: %v) was used", n, len(whole), n > 0 && torn[0] == 0)
			}
			if got := doc(t, s, "aaa", "1.0.0"); got != want {
				t.Fatalf("cut at %d: document differs:\n%s\nwant\n%s", n, got, want)
			}
		}
	}
}

// TestRescan: added, changed and removed packages are picked up; a scan
// that finds nothing new reports no change; a package that stops loading
// is left out while the others stay.
func TestRescan(t *testing.T) {
	dir := t.TempDir()
	writeZip(t, dir, "aaa", "1.0.0", nil, false)
	s := open(t, pkgpath.Config{Paths: []string{dir}})
	ctx := context.Background()
	if changed, err := s.Rescan(ctx, false); err != nil || changed {
		t.Fatalf("unchanged rescan: %v, %v", changed, err)
	}
	added := writeZip(t, dir, "bbb", "1.0.0", nil, false)
	if changed, err := s.Rescan(ctx, false); err != nil || !changed {
		t.Fatalf("rescan after adding: %v, %v", changed, err)
	}
	if s.Current().Len() != 2 {
		t.Fatalf("%d packages, want 2", s.Current().Len())
	}
	if err := os.Remove(added); err != nil {
		t.Fatal(err)
	}
	if changed, err := s.Rescan(ctx, false); err != nil || !changed {
		t.Fatalf("rescan after removing: %v, %v", changed, err)
	}
	if _, ok := s.Current().Lookup(packageid.ID{Name: "bbb", Version: "1.0.0"}); ok {
		t.Fatal("removed package still served")
	}
	// A zip whose manifest no longer loads: left out, the rest served.
	if err := os.WriteFile(filepath.Join(dir, "aaa-1.0.0.zip"), ziptest.Build(t, ziptest.Entry{Name: "x/readme.txt", Body: []byte("x")}), 0o644); err != nil {
		t.Fatal(err)
	}
	writeZip(t, dir, "ccc", "1.0.0", nil, false)
	if _, err := s.Rescan(ctx, false); err != nil {
		t.Fatalf("lenient rescan: %v", err)
	}
	if _, ok := s.Current().Lookup(packageid.ID{Name: "ccc", Version: "1.0.0"}); !ok || s.Current().Len() != 1 {
		t.Fatalf("after a broken zip: %d packages, want only ccc", s.Current().Len())
	}
}

// TestRefusedAtStart: what EPR refuses to start with, Open refuses, with
// EPR's reason.
func TestRefusedAtStart(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    pkgpath.Options
		setup   func(t *testing.T, dir string)
		wantErr string
	}{
		{"zip without a package folder", pkgpath.Options{}, func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "x-1.0.0.zip"), ziptest.Build(t, ziptest.Entry{Name: "manifest.yml", Body: ziptest.Manifest("x", "1.0.0")}), 0o644)
		}, "failed to determine root directory"},
		{"folder without README", pkgpath.Options{}, func(t *testing.T, dir string) {
			writeFolder(t, dir, "x/1.0.0", "x", "1.0.0", "docs/README.md", nil)
		}, "docs/README.md is required"},
		{"missing signature", pkgpath.Options{RequireSignatures: true}, func(t *testing.T, dir string) {
			writeZip(t, dir, "x", "1.0.0", nil, false)
		}, "missing a required signature file"},
		{"validation: no title", pkgpath.Options{Validate: true}, func(t *testing.T, dir string) {
			writeFolder(t, dir, "x/1.0.0", "x", "1.0.0", "", func(m string) string { return strings.Replace(m, "title: x test package\n", "", 1) })
		}, "no title set"},
		{"validation: version folder", pkgpath.Options{Validate: true}, func(t *testing.T, dir string) {
			writeFolder(t, dir, "x/1.0.1", "x", "1.0.0", "", nil)
		}, "version in manifest file is not consistent with path"},
		{"validation: version folder, prerelease", pkgpath.Options{Validate: true}, func(t *testing.T, dir string) {
			writeFolder(t, dir, "x/1.0.0-rc1", "x", "1.0.0", "", nil)
		}, "inconsistent versions (path: 1.0.0-rc1, manifest: 1.0.0)"},
		{"validation: missing icon", pkgpath.Options{Validate: true}, func(t *testing.T, dir string) {
			writeFolder(t, dir, "x/1.0.0", "x", "1.0.0", "img/icon.svg", nil)
		}, "img/icon.svg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			_, err := pkgpath.Open(context.Background(), pkgpath.Config{Paths: []string{dir}, Options: tc.opts})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Open: %v; want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestWalkLikeEPR: zips anywhere below a path (not-zips skipped), folders
// only as NAME/VERSION/ with a strict semver VERSION; NAME-VERSION/
// folders and stray files are ignored, as EPR ignores them; zips win over
// folders and the first path over the next.
func TestWalkLikeEPR(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(a, "deep", "er"), 0o755)
	writeZip(t, filepath.Join(a, "deep", "er"), "zipped", "1.0.0", nil, false)
	os.WriteFile(filepath.Join(a, "junk.zip"), []byte("not a zip"), 0o644)
	writeFolder(t, a, "flat-1.0.0", "flat", "1.0.0", "", nil)
	writeFolder(t, a, "named/not-semver", "named", "1.0.0", "", nil)
	writeFolder(t, a, "dup/1.0.0", "dup", "1.0.0", "", func(m string) string { return strings.Replace(m, "A package built by the tests.", "from a", 1) })
	writeFolder(t, b, "dup/1.0.0", "dup", "1.0.0", "", func(m string) string { return strings.Replace(m, "A package built by the tests.", "from b", 1) })
	writeZip(t, b, "dup", "1.0.0", func(m string) string { return strings.Replace(m, "A package built by the tests.", "zip in b", 1) }, false)
	s := open(t, pkgpath.Config{Paths: []string{a, b}})
	var got []string
	for _, id := range []string{"zipped-1.0.0", "flat-1.0.0", "named-1.0.0", "dup-1.0.0"} {
		pid, _ := packageid.ParseZipName(id + ".zip")
		if _, ok := s.Current().Lookup(pid); ok {
			got = append(got, id)
		}
	}
	if strings.Join(got, " ") != "zipped-1.0.0 dup-1.0.0" {
		t.Fatalf("served %v, want zipped-1.0.0 and dup-1.0.0", got)
	}
	if d := doc(t, s, "dup", "1.0.0"); !strings.Contains(d, "zip in b") {
		t.Fatalf("duplicate: the zip (zip indexer first) should win:\n%s", d)
	}
}

// TestWalkSkipsWhatEPRSkips: what EPR's walk passes over without refusing
// the start, found by issue 22's differential probes: a .zip that is a
// dangling link (EPR cannot open it: skipped as not a zip), and, under
// validation, a version folder that differs from the manifest's version
// only in build metadata (EPR compares versions, and semver precedence
// ignores build metadata).
func TestWalkSkipsWhatEPRSkips(t *testing.T) {
	dir := t.TempDir()
	writeZip(t, dir, "zipped", "1.0.0", nil, false)
	if err := os.Symlink(filepath.Join(dir, "nowhere", "gone-1.0.0.zip"), filepath.Join(dir, "gone-1.0.0.zip")); err != nil {
		t.Fatal(err)
	}
	writeFolder(t, dir, "meta/1.0.0+build.7", "meta", "1.0.0", "", nil)
	writeFolder(t, dir, "other/1.0.0", "other", "1.0.0+b2", "", nil)
	s := open(t, pkgpath.Config{Paths: []string{dir}, Options: pkgpath.Options{Validate: true}})
	for _, id := range []packageid.ID{{Name: "zipped", Version: "1.0.0"}, {Name: "meta", Version: "1.0.0"}, {Name: "other", Version: "1.0.0+b2"}} {
		if _, ok := s.Current().Lookup(id); !ok {
			t.Errorf("%s not served", id)
		}
	}
	if _, ok := s.Current().Lookup(packageid.ID{Name: "gone", Version: "1.0.0"}); ok {
		t.Error("the dangling link is served")
	}
}

// TestFolderLinksLikeEPR: a link inside a folder package to a file of the
// package is one of its assets, as EPR lists it (it stats what it walks);
// a dangling link stops the start, as EPR's ("loading package assets
// failed"). Found by issue 22's differential probes.
func TestFolderLinksLikeEPR(t *testing.T) {
	dir := t.TempDir()
	root := writeFolder(t, dir, "linked/1.0.0", "linked", "1.0.0", "", nil)
	if err := os.Symlink("README.md", filepath.Join(root, "docs", "LINK.md")); err != nil {
		t.Fatal(err)
	}
	s := open(t, pkgpath.Config{Paths: []string{dir}})
	if d := doc(t, s, "linked", "1.0.0"); !strings.Contains(d, "/package/linked/1.0.0/docs/LINK.md") {
		t.Fatalf("the linked file is not an asset:\n%s", d)
	}
	// The generated zip holds the link's header with the file's content,
	// as EPR's archiver writes it.
	p, _ := s.Current().Lookup(packageid.ID{Name: "linked", Version: "1.0.0"})
	var buf bytes.Buffer
	if err := p.WriteZip(&buf); err != nil {
		t.Fatal(err)
	}
	readme, _ := os.ReadFile(filepath.Join(root, "docs", "README.md"))
	if got := zipEntry(t, buf.Bytes(), "linked-1.0.0/docs/LINK.md"); !bytes.Equal(got, readme) {
		t.Fatalf("zipped link holds %q, want the README %q", got, readme)
	}
	if err := os.Symlink("nowhere.md", filepath.Join(root, "docs", "GONE.md")); err != nil {
		t.Fatal(err)
	}
	if _, err := pkgpath.Open(context.Background(), pkgpath.Config{Paths: []string{dir}}); err == nil || !strings.Contains(err.Error(), "GONE.md") {
		t.Fatalf("a dangling link in a folder package: Open = %v, want a refusal naming it", err)
	}
}

// TestOpenStatic: files are served from zips and folders, seekable; a link
// out of a version folder and ".." are "no such file"; a path under a
// file is an error (EPR answers 500).
func TestOpenStatic(t *testing.T) {
	dir := t.TempDir()
	writeZip(t, dir, "zipped", "1.0.0", nil, false)
	root := writeFolder(t, dir, "folded/1.0.0", "folded", "1.0.0", "", nil)
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("secret"), 0o644)
	if err := os.Symlink(secret, filepath.Join(root, "docs", "evil.md")); err != nil {
		t.Fatal(err)
	}
	s := open(t, pkgpath.Config{Paths: []string{dir}})
	for _, name := range []string{"zipped", "folded"} {
		p, _ := s.Current().Lookup(packageid.ID{Name: name, Version: "1.0.0"})
		f, err := p.OpenStatic("docs/README.md")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := "# " + name + "\n\nA test package with <b>HTML</b> & ampersands.\n"
		all, _ := io.ReadAll(f)
		if string(all) != want || f.Size != int64(len(want)) {
			t.Fatalf("%s: read %q (size %d)", name, all, f.Size)
		}
		// A range: seek into the middle, then back to the start.
		if _, err := f.Seek(2, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		part := make([]byte, 4)
		if _, err := io.ReadFull(f, part); err != nil || string(part) != want[2:6] {
			t.Fatalf("%s: range read %q, %v", name, part, err)
		}
		f.Seek(0, io.SeekStart)
		if all, _ := io.ReadAll(f); string(all) != want {
			t.Fatalf("%s: reread %q", name, all)
		}
		f.Close()
		for _, bad := range []string{"../1.0.0/manifest.yml", "", "docs/missing.md", "docs"} {
			if _, err := p.OpenStatic(bad); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("%s: OpenStatic(%q): %v, want not exist", name, bad, err)
			}
		}
	}
	p, _ := s.Current().Lookup(packageid.ID{Name: "folded", Version: "1.0.0"})
	if f, err := p.OpenStatic("docs/evil.md"); !errors.Is(err, fs.ErrNotExist) {
		if f != nil {
			b, _ := io.ReadAll(f)
			t.Fatalf("link out of the package served: %q", b)
		}
		t.Fatalf("link out of the package: %v, want not exist", err)
	}
	if _, err := p.OpenStatic("manifest.yml/x"); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("path under a file: %v, want an error other than not-exist", err)
	}
	var buf bytes.Buffer
	if err := p.WriteZip(&buf); err != nil {
		t.Fatal(err)
	}
}

// TestPathsOpenedAsWritten: EPR opens each package path as written, the
// operating system resolving it from the working directory: "x/../p"
// needs x to exist, a link to a folder is followed only when the path
// ends in a slash (a walk does not enter a link), "./p" and "p/" are p.
// (Found by the generated deployments, TestEPRDeployments.)
func TestPathsOpenedAsWritten(t *testing.T) {
	root := t.TempDir()
	writeZip(t, mkdir(t, root, "pkgs"), "served", "1.0.0", nil, false)
	writeFolder(t, mkdir(t, root, "real"), "folder/1.0.0", "folder", "1.0.0", "", nil)
	mkdir(t, root, "there")
	if err := os.Symlink("real", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	for _, tc := range []struct {
		path string
		want string // the package served, "" none
	}{
		{"pkgs", "served"},
		{"./pkgs", "served"},
		{"pkgs/", "served"},
		{"./there/../pkgs", "served"},
		{filepath.Join(root, "pkgs") + "/", "served"},
		{"missing/../pkgs", ""},
		{root + "/missing/../pkgs", ""},
		{"link", ""},
		{root + "/link", ""},
		{"link/", "folder"},
		{"./link/", "folder"},
		{root + "/link/", "folder"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			s := open(t, pkgpath.Config{Paths: []string{tc.path}})
			var got []string
			for _, id := range []packageid.ID{{Name: "served", Version: "1.0.0"}, {Name: "folder", Version: "1.0.0"}} {
				if _, ok := s.Current().Lookup(id); ok {
					got = append(got, id.Name)
				}
			}
			if strings.Join(got, " ") != tc.want {
				t.Fatalf("package path %q served %q, want %q", tc.path, got, tc.want)
			}
		})
	}
}

func mkdir(t *testing.T, parts ...string) string {
	t.Helper()
	p := filepath.Join(parts...)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestZipsAndFoldersAreTwoIndexers: /search runs in EPR's zip indexer and
// folder indexer on its own, then keeps the newest across them: with a zip
// of 1.2.0-rc1 and a folder of 1.1.0, experimental=true (which prefers a
// stable version within one indexer) answers 1.2.0-rc1, as EPR does.
// (Found by the generated deployments, TestEPRDeployments.)
func TestZipsAndFoldersAreTwoIndexers(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	writeZip(t, a, "p", "1.2.0-rc1", nil, false)
	writeFolder(t, b, "p/1.1.0", "p", "1.1.0", "", nil)
	writeZip(t, b, "q", "1.2.0-rc1", nil, false)
	writeZip(t, b, "q", "1.1.0", nil, false)
	// r: the zip indexer keeps 1.0.0 (stable first); the folder indexer
	// has its own copy of 1.2.0-rc1 (served from the zip), newer.
	writeZip(t, a, "r", "1.0.0", nil, false)
	writeZip(t, a, "r", "1.2.0-rc1", nil, false)
	writeFolder(t, b, "r/1.2.0-rc1", "r", "1.2.0-rc1", "", nil)
	s := open(t, pkgpath.Config{Paths: []string{a, b}})
	hits, err := s.Current().Catalog().Search(catalog.Filter{Experimental: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hits {
		got = append(got, h.Rev.ID.String())
	}
	if strings.Join(got, " ") != "p-1.2.0-rc1 q-1.1.0 r-1.2.0-rc1" {
		t.Fatalf("experimental=true: %v, want p-1.2.0-rc1 (zip indexer's, newer), q-1.1.0 (one indexer: stable first) and r-1.2.0-rc1 (the folder indexer's copy)", got)
	}
	if p, ok := s.Current().Lookup(packageid.ID{Name: "r", Version: "1.2.0-rc1"}); !ok || !p.Zip {
		t.Fatalf("r-1.2.0-rc1 must be served from its zip (the first): %+v", p)
	}
}

// zipEntry returns the content of one entry of a zip.
func zipEntry(t *testing.T, data []byte, name string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	f, err := zr.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
