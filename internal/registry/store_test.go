package registry

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/index"
	"pkgstore/internal/packagedoc"
	"pkgstore/internal/packageid"
	"pkgstore/internal/signature/sigtest"
	"pkgstore/internal/storage"
)

// sharedDir returns ../shared next to the module root, or skips the test.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("go.mod not found")
		}
		dir = parent
	}
	shared := filepath.Join(filepath.Dir(dir), "shared")
	if _, err := os.Stat(shared); err != nil {
		t.Skipf("%s not available: %v", shared, err)
	}
	return shared
}

// keepBuckets leaves buckets open past the test that made them: the
// benchmarks share one store set up once per process.
var keepBuckets bool

// testStore fills buckets the way the publishing job and the indexer do
// (zip, signature, static files, document, index), without their checks.
// It stands in for them until a publish test helper exists.
type testStore struct {
	b       *storage.Buckets
	key     *sigtest.Key
	entries []index.Entry
	seen    map[packageid.ID]bool
	cursor  int
}

func newTestStore(t testing.TB) *testStore {
	t.Helper()
	ctx := context.Background()
	pub, err := storage.OpenURL(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	in, err := storage.OpenURL(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	if !keepBuckets {
		t.Cleanup(func() { pub.Close(); in.Close() })
	}
	return &testStore{b: &storage.Buckets{Public: pub, Internal: in}, key: sigtest.NewKey(t, "registry-test"), seen: map[packageid.ID]bool{}}
}

// zipFolder zips dir under root/ as EPR's archiver does: lexical walk,
// directory entries included.
func zipFolder(t testing.TB, fsys fs.FS, root string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := root + "/" + p
		if p == "." {
			name = root
		}
		if d.IsDir() {
			_, err := zw.Create(name + "/")
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		w, err := zw.Create(name)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// add publishes a zip unless its name-version is already there (first
// wins, EPR's precedence). It returns the revision's id.
func (s *testStore) add(t testing.TB, data []byte) packageid.ID {
	t.Helper()
	ctx := context.Background()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	root := ""
	var order []string
	for _, f := range zr.File {
		if dir, rest, ok := strings.Cut(f.Name, "/"); ok && rest == "manifest.yml" && root == "" {
			root = dir
		}
	}
	if root == "" {
		t.Fatal("zip has no root folder with manifest.yml")
	}
	for _, f := range zr.File {
		if rest, ok := strings.CutPrefix(f.Name, root+"/"); ok && rest != "" && !strings.HasSuffix(rest, "/") {
			order = append(order, rest)
		}
	}
	sub, err := fs.Sub(zr, root)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := packagedoc.Build(sub, packagedoc.Options{Signed: true, FileOrder: order})
	if err != nil {
		t.Fatalf("%s: %v", root, err)
	}
	id := packageid.ID{Name: doc.Name, Version: doc.Version}
	if s.seen[id] {
		return id
	}
	s.seen[id] = true
	docJSON, err := packagedoc.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	write := func(b *storage.Bucket, key string, data []byte) {
		if err := b.WriteFile(ctx, key, bytes.NewReader(data), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, rel := range order {
		data, err := fs.ReadFile(sub, rel)
		if err != nil {
			t.Fatal(err)
		}
		write(s.b.Public, storage.StaticKey(id, rel), data)
	}
	write(s.b.Internal, storage.DocumentKey(id), docJSON)
	write(s.b.Public, storage.SignatureKey(id), s.key.Sign(t, data))
	write(s.b.Public, storage.ZipKey(id), data)
	s.entries = append(s.entries, index.Entry{ID: id, Manifest: docJSON})
	return id
}

// addFolders adds every NAME/VERSION folder under dir, in lexical order.
func (s *testStore) addFolders(t testing.TB, dir string) {
	t.Helper()
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if !n.IsDir() {
			continue
		}
		versions, err := os.ReadDir(filepath.Join(dir, n.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range versions {
			if !v.IsDir() || !packageid.IsStrictSemver(v.Name()) {
				continue
			}
			fsys := os.DirFS(filepath.Join(dir, n.Name(), v.Name()))
			s.add(t, zipFolder(t, fsys, n.Name()+"-"+v.Name()))
		}
	}
}

// writeIndex writes the next cursor's search-index-all.json (and, when
// delta is not nil, its delta) then moves cursor.json: the indexer's
// commit order.
func (s *testStore) writeIndex(t testing.TB, delta []index.Entry) string {
	t.Helper()
	ctx := context.Background()
	s.cursor++
	cursor := fmt.Sprintf("%020d", s.cursor)
	var buf bytes.Buffer
	buf.WriteString(`{"packages":[`)
	for i, e := range s.entries {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`{"package_manifest":`)
		buf.Write(e.Manifest)
		buf.WriteByte('}')
	}
	buf.WriteString("]}\n")
	if err := s.b.Internal.WriteFile(ctx, storage.IndexAllKey(cursor), &buf, nil); err != nil {
		t.Fatal(err)
	}
	if delta != nil {
		var d bytes.Buffer
		d.WriteString(`{"added":[`)
		for i, e := range delta {
			if i > 0 {
				d.WriteByte(',')
			}
			d.WriteString(`{"package_manifest":`)
			d.Write(e.Manifest)
			d.WriteByte('}')
		}
		d.WriteString(`],"updated":[],"removed":[]}`)
		if err := s.b.Internal.WriteFile(ctx, storage.IndexDeltaKey(cursor), &d, nil); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := json.Marshal(map[string]string{"current": cursor})
	if err := s.b.Internal.WriteFile(ctx, storage.CursorKey, bytes.NewReader(c), nil); err != nil {
		t.Fatal(err)
	}
	return cursor
}

// eprStore publishes the EPR test packages in EPR's precedence order.
func eprStore(t testing.TB) *testStore {
	t.Helper()
	root := filepath.Join(sharedDir(t), "testdata", "epr-packages")
	s := newTestStore(t)
	zips, _ := filepath.Glob(filepath.Join(root, "local-storage", "*.zip"))
	sort.Strings(zips)
	for _, z := range zips {
		data, err := os.ReadFile(z)
		if err != nil {
			t.Fatal(err)
		}
		s.add(t, data)
	}
	s.addFolders(t, filepath.Join(root, "second_package_path"))
	s.addFolders(t, filepath.Join(root, "package"))
	s.writeIndex(t, nil)
	return s
}

// v1Store publishes the v1 sample (packages/NAME/VERSION/ in a tarball).
func v1Store(t testing.TB) *testStore {
	t.Helper()
	f, err := os.Open(filepath.Join(sharedDir(t), "testdata", "v1-sample.tar.gz"))
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	type rev struct{ files map[string][]byte }
	revs := map[string]*rev{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		parts := strings.SplitN(strings.TrimPrefix(path.Clean(h.Name), "./"), "/", 4)
		if len(parts) < 4 || parts[0] != "packages" {
			continue
		}
		key := parts[1] + "-" + parts[2]
		if revs[key] == nil {
			revs[key] = &rev{files: map[string][]byte{}}
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		revs[key].files[parts[3]] = data
	}
	keys := make([]string, 0, len(revs))
	for k := range revs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := newTestStore(t)
	for _, k := range keys {
		s.add(t, zipFiles(t, k, revs[k].files))
	}
	s.writeIndex(t, nil)
	return s
}

// zipFiles zips files (lexical order) under root/.
func zipFiles(t testing.TB, root string, files map[string][]byte) []byte {
	t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := zw.Create(root + "/" + n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(files[n])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// newTestRegistry serves s with 1 s cache times (EPR's test setting).
func newTestRegistry(t testing.TB, s *testStore, allowUnknown bool) *Registry {
	t.Helper()
	r, err := New(Config{
		Buckets:                 s.b,
		CacheTimes:              CacheTimes{Index: timeSecond, Search: timeSecond, Categories: timeSecond, CatchAll: timeSecond},
		AllowUnknownQueryParams: allowUnknown,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

const timeSecond = time.Second
