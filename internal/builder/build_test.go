package builder

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"pkgstore/internal/testkit/treetest"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/pkg/archive"
	"pkgstore/internal/pkg/packageid"
)

const manifest = "format_version: 1.0.0\nname: demo\ntitle: Demo\nversion: 1.2.3\ndescription: d\ntype: integration\nowner:\n  github: elastic/x\n"

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

const sharedFields = "- name: ecs.version\n  type: keyword\n"

// samplePackage lays out a source package with development material, a
// link to a file outside the package and awkward names. It returns the
// package folder.
func samplePackage(t *testing.T) string {
	t.Helper()
	repo := t.TempDir()
	treetest.Write(t, repo, map[string]string{
		"shared/ecs.yml": sharedFields,
		".git/HEAD":      "ref: refs/heads/main",
	})
	pkg := filepath.Join(repo, "packages", "demo")
	treetest.Write(t, pkg, map[string]string{
		"manifest.yml":                                  manifest,
		"changelog.yml":                                 "- version: 1.2.3\n",
		"docs/README.md":                                "# Demo\n" + strings.Repeat("text that compresses well ", 200),
		"img/[Logs Demo] Overview.png":                  "\x89PNG not really",
		"img/icon.svg":                                  "<svg/>",
		"data_stream/log/manifest.yml":                  "title: log\n",
		"data_stream/log/fields/ecs.yml.link":           "../../../../../shared/ecs.yml " + sha(sharedFields) + "\n",
		"data_stream/log/_dev/test/pipeline/test.log":   "dev only",
		"data_stream/log/elasticsearch/.hidden-ok.json": "{}",
		"_dev/build/build.yml":                          "# dev only\n",
		"build/out.txt":                                 "stale build output",
		"img/.git/HEAD":                                 "ref: refs/heads/main",
		".DS_Store":                                     "junk",
		"docs/.README.md.swp":                           "junk",
		"docs/README.md~":                               "junk",
		"kibana/only_dev/_dev/x":                        "dev only",
	})
	return pkg
}

func readZip(t *testing.T, p string) (*zip.ReadCloser, map[string]*zip.File) {
	t.Helper()
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { zr.Close() })
	m := map[string]*zip.File{}
	for _, f := range zr.File {
		m[f.Name] = f
	}
	return zr, m
}

func content(t *testing.T, f *zip.File) string {
	t.Helper()
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("%s: %v", f.Name, err)
	}
	return string(b)
}

func TestPackageLayout(t *testing.T) {
	pkg := samplePackage(t)
	res, err := Package(context.Background(), pkg, filepath.Join(t.TempDir(), "out"), Config{SkipValidation: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := (packageid.ID{Name: "demo", Version: "1.2.3"}); res.ID != want {
		t.Fatalf("ID = %v, want %v", res.ID, want)
	}
	if filepath.Base(res.Path) != "demo-1.2.3.zip" {
		t.Fatalf("zip name %s", res.Path)
	}
	if fi, err := os.Stat(res.Path); err != nil || fi.Size() != res.Size {
		t.Fatalf("size: %v %v vs %d", fi, err, res.Size)
	}
	if whole, err := os.ReadFile(res.Path); err != nil || sha(string(whole)) != res.SHA256 {
		t.Fatalf("SHA256 %s does not match the file (%v)", res.SHA256, err)
	}
	zr, files := readZip(t, res.Path)

	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	want := []string{
		"demo-1.2.3/",
		"demo-1.2.3/changelog.yml",
		"demo-1.2.3/data_stream/",
		"demo-1.2.3/data_stream/log/",
		"demo-1.2.3/data_stream/log/elasticsearch/",
		"demo-1.2.3/data_stream/log/elasticsearch/.hidden-ok.json",
		"demo-1.2.3/data_stream/log/fields/",
		"demo-1.2.3/data_stream/log/fields/ecs.yml",
		"demo-1.2.3/data_stream/log/manifest.yml",
		"demo-1.2.3/docs/",
		"demo-1.2.3/docs/README.md",
		"demo-1.2.3/img/",
		"demo-1.2.3/img/[Logs Demo] Overview.png",
		"demo-1.2.3/img/icon.svg",
		"demo-1.2.3/manifest.yml",
	}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Fatalf("entries:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	if res.Stats.Files != 8 || res.Stats.Dirs != 7 {
		t.Errorf("stats %+v", res.Stats)
	}

	// Fleet: one root folder equal to NAME-VERSION, manifest at depth 1.
	if got := content(t, files["demo-1.2.3/manifest.yml"]); got != manifest {
		t.Errorf("manifest content %q", got)
	}
	if got := content(t, files["demo-1.2.3/data_stream/log/fields/ecs.yml"]); got != sharedFields {
		t.Errorf("link not resolved: %q", got)
	}
	for _, f := range zr.File {
		if !f.Modified.Equal(ModTime) {
			t.Errorf("%s: modified %v", f.Name, f.Modified)
		}
		isDir := strings.HasSuffix(f.Name, "/")
		switch {
		case isDir && f.Mode() != fs.ModeDir|DirMode:
			t.Errorf("%s: mode %v", f.Name, f.Mode())
		case !isDir && f.Mode() != FileMode:
			t.Errorf("%s: mode %v", f.Name, f.Mode())
		}
	}
	if m := files["demo-1.2.3/img/[Logs Demo] Overview.png"].Method; m != zip.Store {
		t.Errorf("png method %d, want Store", m)
	}
	readme := files["demo-1.2.3/docs/README.md"]
	if readme.Method != zip.Deflate || readme.CompressedSize64 >= readme.UncompressedSize64/4 {
		t.Errorf("README method %d sizes %d/%d, want deflated", readme.Method, readme.CompressedSize64, readme.UncompressedSize64)
	}
	// The publishing job's defensive opener accepts it.
	data, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := archive.Open(bytes.NewReader(data), int64(len(data)), res.ID, archive.DefaultLimits)
	if err != nil {
		t.Fatalf("the publisher would refuse the zip: %v", err)
	}
	if opened.Root != "demo-1.2.3" || len(opened.Files) != 8 {
		t.Errorf("archive.Open: root %q, %d files", opened.Root, len(opened.Files))
	}
	// The standard library (another inflater) reads every entry back.
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, "/") {
			content(t, f)
		}
	}
}

func TestDeterministic(t *testing.T) {
	pkg := samplePackage(t)
	ctx := context.Background()
	first, err := Package(ctx, pkg, filepath.Join(t.TempDir(), "a"), Config{SkipValidation: true})
	if err != nil {
		t.Fatal(err)
	}
	// Touch every file and change its mode: the bytes must not change.
	later := time.Now().Add(time.Hour)
	err = filepath.WalkDir(filepath.Dir(filepath.Dir(pkg)), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			if err := os.Chmod(p, 0o755); err != nil {
				return err
			}
		}
		return os.Chtimes(p, later, later)
	})
	if err != nil {
		t.Fatal(err)
	}
	second, err := Package(ctx, pkg, filepath.Join(t.TempDir(), "b"), Config{SkipValidation: true})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(first.Path)
	b, _ := os.ReadFile(second.Path)
	if !bytes.Equal(a, b) {
		t.Fatalf("two builds differ: %d vs %d bytes", len(a), len(b))
	}
	// And a content change does change the bytes (the comparison can fail).
	treetest.Write(t, pkg, map[string]string{"docs/README.md": "changed"})
	third, err := Package(ctx, pkg, filepath.Join(t.TempDir(), "c"), Config{SkipValidation: true})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := os.ReadFile(third.Path)
	if bytes.Equal(a, c) {
		t.Fatal("changed content gave the same zip")
	}
}

func TestLinks(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		wantErr string
		isSum   bool
		outside bool   // refused as ErrLinkOutsideRepository
		noRepo  bool   // no .git above the package
		symlink string // a symbolic link at the repository root to a file outside it
	}{
		{
			name:  "good link",
			files: map[string]string{"target.yml": "x: 1\n", "pkg/a.yml.link": "../target.yml " + sha("x: 1\n")},
		},
		{
			name:  "upper-case checksum and extra lines",
			files: map[string]string{"target.yml": "x: 1\n", "pkg/a.yml.link": "../target.yml " + strings.ToUpper(sha("x: 1\n")) + "\nignored\n"},
		},
		{
			name:    "checksum mismatch",
			files:   map[string]string{"target.yml": "x: 2\n", "pkg/a.yml.link": "../target.yml " + sha("x: 1\n")},
			wantErr: "checksum mismatch",
			isSum:   true,
		},
		{
			name:    "missing target",
			files:   map[string]string{"pkg/a.yml.link": "../nope.yml " + sha("")},
			wantErr: "link target",
		},
		{
			name:    "no checksum",
			files:   map[string]string{"target.yml": "x", "pkg/a.yml.link": "../target.yml"},
			wantErr: "first line",
		},
		{
			name:    "checksum not hex",
			files:   map[string]string{"target.yml": "x", "pkg/a.yml.link": "../target.yml zz"},
			wantErr: "not a sha256",
		},
		{
			name:    "empty link",
			files:   map[string]string{"pkg/a.yml.link": ""},
			wantErr: "empty",
		},
		{
			name:    "target outside the repository",
			files:   map[string]string{"pkg/a.yml.link": "../../outside.yml " + sha("secret\n")},
			wantErr: "outside",
			outside: true,
		},
		{
			name:    "symbolic link inside leading outside",
			files:   map[string]string{"pkg/a.yml.link": "../escape.yml " + sha("secret\n")},
			symlink: "escape.yml",
			wantErr: "outside",
			outside: true,
		},
		{
			name:    "no repository",
			files:   map[string]string{"target.yml": "x: 1\n", "pkg/a.yml.link": "../target.yml " + sha("x: 1\n")},
			noRepo:  true,
			wantErr: "not inside a git repository",
			outside: true,
		},
		{
			name:    "link and file of the same name",
			files:   map[string]string{"target.yml": "x: 1\n", "pkg/a.yml.link": "../target.yml " + sha("x: 1\n"), "pkg/a.yml": "x: 1\n"},
			wantErr: "both",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The repository is a folder below a temporary one that also
			// holds a file outside it.
			base := t.TempDir()
			treetest.Write(t, base, map[string]string{"outside.yml": "secret\n"})
			root := filepath.Join(base, "repo")
			treetest.Write(t, root, tc.files)
			if !tc.noRepo {
				treetest.Write(t, root, map[string]string{".git/HEAD": "ref: refs/heads/main\n"})
			}
			if tc.symlink != "" {
				if err := os.Symlink(filepath.Join(base, "outside.yml"), filepath.Join(root, tc.symlink)); err != nil {
					t.Fatal(err)
				}
			}
			pkg := filepath.Join(root, "pkg")
			var buf bytes.Buffer
			_, err := Write(context.Background(), &buf, pkg, packageid.ID{Name: "p", Version: "1.0.0"}, Options{})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
				if err != nil {
					t.Fatal(err)
				}
				if len(zr.File) != 2 || zr.File[1].Name != "p-1.0.0/a.yml" || content(t, zr.File[1]) != "x: 1\n" {
					t.Fatalf("unexpected entries %v", zr.File)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
			}
			if errors.Is(err, ErrLinkChecksum) != tc.isSum {
				t.Fatalf("errors.Is(err, ErrLinkChecksum) = %v", !tc.isSum)
			}
			if errors.Is(err, ErrLinkOutsideRepository) != tc.outside {
				t.Fatalf("errors.Is(err, ErrLinkOutsideRepository) = %v: %v", !tc.outside, err)
			}
		})
	}
}

func TestPackageErrors(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		wantErr string
	}{
		{"no manifest", map[string]string{"docs/README.md": "x"}, "manifest"},
		{"bad name", map[string]string{"manifest.yml": "name: Demo-X\nversion: 1.0.0\n"}, "package name"},
		{"bad version", map[string]string{"manifest.yml": "name: demo\nversion: 1.0\n"}, "semver"},
		{"unparsable manifest", map[string]string{"manifest.yml": "name: [\n"}, "parse"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			treetest.Write(t, dir, tc.files)
			out := filepath.Join(t.TempDir(), "out")
			_, err := Package(context.Background(), dir, out, Config{SkipValidation: true})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if des, _ := os.ReadDir(out); len(des) != 0 {
				t.Fatalf("output left behind: %v", des)
			}
		})
	}
}

func TestFailedBuildLeavesNoZip(t *testing.T) {
	root := t.TempDir()
	treetest.Write(t, root, map[string]string{
		".git/HEAD":        "ref: refs/heads/main\n",
		"target.yml":       "changed",
		"pkg/manifest.yml": "name: demo\nversion: 1.0.0\n",
		"pkg/a.yml.link":   "../target.yml " + sha("original"),
	})
	out := filepath.Join(t.TempDir(), "out")
	if _, err := Package(context.Background(), filepath.Join(root, "pkg"), out, Config{SkipValidation: true}); !errors.Is(err, ErrLinkChecksum) {
		t.Fatalf("err = %v", err)
	}
	if des, _ := os.ReadDir(out); len(des) != 0 {
		t.Fatalf("output left behind: %v", des)
	}
}

func TestWriteV1(t *testing.T) {
	tests := []struct {
		name    string
		dir     string // below packages/
		files   map[string]string
		wantErr string
	}{
		{"good", "demo/1.0.0", map[string]string{"manifest.yml": "name: demo\nversion: 1.0.0\n", "x.yml.link": "kept as is"}, ""},
		{"version differs", "demo/1.0.1", map[string]string{"manifest.yml": "name: demo\nversion: 1.0.0\n"}, "folder is demo/1.0.1"},
		{"name differs", "other/1.0.0", map[string]string{"manifest.yml": "name: demo\nversion: 1.0.0\n"}, "folder is other/1.0.0"},
		{"folder not semver", "demo/latest", map[string]string{"manifest.yml": "name: demo\nversion: 1.0.0\n"}, "semver"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "packages", filepath.FromSlash(tc.dir))
			treetest.Write(t, dir, tc.files)
			var buf bytes.Buffer
			id, _, err := WriteV1(context.Background(), &buf, dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id.String() != "demo-1.0.0" {
				t.Fatalf("id %s", id)
			}
			zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, f := range zr.File {
				names = append(names, f.Name)
			}
			if got := strings.Join(names, ","); got != "demo-1.0.0/,demo-1.0.0/manifest.yml,demo-1.0.0/x.yml.link" {
				t.Fatalf("entries %s", got)
			}
		})
	}
}

func TestCancelled(t *testing.T) {
	pkg := samplePackage(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Write(ctx, io.Discard, pkg, packageid.ID{Name: "demo", Version: "1.2.3"}, Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestSymlinks(t *testing.T) {
	tests := []struct {
		name    string
		target  string // relative to the package folder; "" = dangling
		dir     bool
		wantErr string
	}{
		{name: "link to a file is followed", target: "docs/README.md"},
		{name: "link to a folder is refused", target: "docs", dir: true, wantErr: "other than a regular file"},
		{name: "dangling link is refused", target: "", wantErr: "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pkg := t.TempDir()
			treetest.Write(t, pkg, map[string]string{"manifest.yml": "name: s\nversion: 1.0.0\n", "docs/README.md": "readme"})
			target := filepath.Join(pkg, "nowhere")
			if tc.target != "" {
				target = filepath.Join(pkg, filepath.FromSlash(tc.target))
			}
			if err := os.Symlink(target, filepath.Join(pkg, "alias")); err != nil {
				t.Skipf("symlinks not supported: %v", err)
			}
			var buf bytes.Buffer
			_, err := Write(context.Background(), &buf, pkg, packageid.ID{Name: "s", Version: "1.0.0"}, Options{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range zr.File {
				if f.Name == "s-1.0.0/alias" {
					if f.Mode() != FileMode || content(t, f) != "readme" {
						t.Fatalf("alias: mode %v, content %q", f.Mode(), content(t, f))
					}
					return
				}
			}
			t.Fatal("alias not in the zip")
		})
	}
}
