package fsdriver_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocloud.dev/blob"

	"pkgstore/internal/storage/driver"
	"pkgstore/internal/storage/fsdriver"
)

// genKey makes a key from pieces that exercise gocloud's escaping: its
// escape sequences (valid or not), "../", "//", a trailing '/', control
// characters, non-ASCII, and the characters package files are named with.
func genKey(r *rand.Rand) string {
	pieces := []string{
		"a", "b", "z9", "_", "__", "0x", "41", "__0x41__", "__0x5f__", "__0x__", "__0xzz__",
		"__0x2f__", "__0x-1__", "__0x7fffffff__", "__0x80000000__", "-", ".", "..", "../", "/", "//",
		" ", "[Logs]", "(1)", "%", "&", "+", "é", "☺", "\t", "\x01", "\x1f", "\\", ":", "*", "~",
		"@000001", ".zip", ".json", ".attrs", ".tmp", "1.0.0",
	}
	var b strings.Builder
	for n := 1 + r.IntN(8); n > 0; n-- {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

// TestKeyPathsMatchFileblob compares the driver with gocloud's file
// driver, as earlier versions of the store opened it, over seeded random
// keys: every key the driver accepts is stored at the path fileblob stores
// it at (so stores on disk read the same), reads back through fileblob,
// and the driver reads, stats and lists what fileblob wrote.
func TestKeyPathsMatchFileblob(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(20, 2))
	n := 3000
	if testing.Short() {
		n = 300
	}
	ours, theirs := t.TempDir(), t.TempDir()
	d, err := fsdriver.Open(ours)
	if err != nil {
		t.Fatal(err)
	}
	dt, err := fsdriver.Open(theirs)
	if err != nil {
		t.Fatal(err)
	}
	fbOurs, fbTheirs := openFileblob(t, ours), openFileblob(t, theirs)
	accepted := 0
	for i := range n {
		key := fmt.Sprintf("k%d/", i) + genKey(r)
		body := []byte("body of " + key)
		rel, ourErr := fsdriver.RelPath(key)
		theirErr := fbTheirs.WriteAll(ctx, key, body, nil)
		if ourErr != nil {
			continue
		}
		if strings.HasSuffix(key, ".attrs") {
			// fileblob reserves these for its metadata sidecars; the
			// driver stores them as ordinary files (TestAttrsKeysAreFiles).
			continue
		}
		accepted++
		if theirErr != nil {
			t.Errorf("%q: fileblob refuses a key the driver accepts (%v)", key, theirErr)
			continue
		}
		if got := fsdriver.UnescapeKey(rel); got != key {
			t.Errorf("%q: unescaped path %q gives %q", key, rel, got)
		}
		// Same path.
		if _, err := os.Lstat(filepath.Join(theirs, filepath.FromSlash(rel))); err != nil {
			t.Errorf("%q: fileblob did not write %q: %v", key, rel, err)
			continue
		}
		// Our writes read through fileblob.
		if err := d.WriteAll(ctx, key, body, nil); err != nil {
			t.Errorf("%q: WriteAll: %v", key, err)
			continue
		}
		if got, err := fbOurs.ReadAll(ctx, key); err != nil || !bytes.Equal(got, body) {
			t.Errorf("%q: fileblob reads %q, %v", key, got, err)
		}
		// Its writes read, stat and list through the driver.
		if got, err := dt.ReadAll(ctx, key); err != nil || !bytes.Equal(got, body) {
			t.Errorf("%q: driver reads %q, %v", key, got, err)
		}
		compareAttrs(t, ctx, key, dt, fbTheirs)
		objs, err := dt.List(ctx, &driver.ListOptions{Prefix: fmt.Sprintf("k%d/", i)})
		if err != nil || len(objs) != 1 || objs[0].Key != key {
			t.Errorf("%q: driver lists %v, %v", key, objs, err)
		}
		if got := listFileblob(t, fbOurs, fmt.Sprintf("k%d/", i)); len(got) != 1 || got[0] != key {
			t.Errorf("%q: fileblob lists %q", key, got)
		}
	}
	if accepted < n/2 {
		t.Errorf("only %d of %d keys accepted", accepted, n)
	}
	// Both folders hold the same files.
	// Both folders hold the same files, keys fileblob maps but the driver
	// refuses aside.
	a, b := tree(t, ours), tree(t, theirs)
	for rel, mode := range a {
		if b[rel] != mode {
			t.Errorf("%q: mode %v, fileblob's %v", rel, mode, b[rel])
		}
	}
}

// TestKeyPaths pins the paths of the keys the store makes.
func TestKeyPaths(t *testing.T) {
	for key, want := range map[string]string{
		"artifacts/packages/a__0x41__b-1.0.0.zip":       "artifacts/packages/a__0x5f___0x41__b-1.0.0.zip",
		"artifacts/packages/x__0x__y-1.0.0.zip":         "artifacts/packages/x__0x__y-1.0.0.zip",
		"pkgstore/claims/__0x5f____0x7a__-1.0.0@000001": "pkgstore/claims/__0x5f___0x5f____0x5f___0x7a__-1.0.0@000001",
		"artifacts/static/a-1.0.0/img/[Logs] a b.png":   "artifacts/static/a-1.0.0/img/[Logs] a b.png",
		"artifacts/static/a-1.0.0/docs/tab\there.md":    "artifacts/static/a-1.0.0/docs/tab__0x9__here.md",
		"a//b":    "a/__0x2f__b",
		"a/../b":  "a/..__0x2f__b",
		"a/b/":    "a/b__0x2f__",
		"a/é☺.md": "a/é☺.md",
	} {
		if got, err := fsdriver.RelPath(key); err != nil || got != want {
			t.Errorf("RelPath(%q) = %q, %v; want %q", key, got, err, want)
		}
	}
	for _, key := range []string{"", "/a", "a/..", "./a", "a/./b", "a/.", ".pkgstore-tmp/x", "\xff"} {
		if got, err := fsdriver.RelPath(key); err == nil {
			t.Errorf("RelPath(%q) = %q, want refused", key, got)
		}
	}
}

// FuzzEscape: a key the driver accepts maps to a path inside the bucket
// that unescapes to the key (fileblob's escaping alone is not always
// reversible: "__0x0" then a NUL unescapes to another key).
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"a__0x41__b", "__0x__", "a//b/", "../x", "\x00", "é", "__0x0\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		rel, err := fsdriver.RelPath(key)
		if err != nil {
			return
		}
		if got := fsdriver.UnescapeKey(rel); got != key {
			t.Fatalf("%q: path %q unescapes to %q", key, rel, got)
		}
		if !filepath.IsLocal(rel) || filepath.Clean(rel) != rel {
			t.Fatalf("%q: path %q is not a clean local path", key, rel)
		}
	})
}

func compareAttrs(t *testing.T, ctx context.Context, key string, d *fsdriver.Bucket, fb *blob.Bucket) {
	t.Helper()
	ours, err1 := d.Attributes(ctx, key)
	theirs, err2 := fb.Attributes(ctx, key)
	if err1 != nil || err2 != nil {
		t.Errorf("%q: attributes: %v, %v", key, err1, err2)
		return
	}
	if ours.Size != theirs.Size || !ours.ModTime.Equal(theirs.ModTime) || ours.ContentType != theirs.ContentType {
		t.Errorf("%q: attributes %+v, fileblob's size %d modtime %v type %q", key, ours, theirs.Size, theirs.ModTime, theirs.ContentType)
	}
	r1, err1 := d.NewRangeReader(ctx, key, 0, -1)
	r2, err2 := fb.NewReader(ctx, key, nil)
	if err1 != nil || err2 != nil {
		t.Errorf("%q: readers: %v, %v", key, err1, err2)
		return
	}
	defer r1.Close()
	defer r2.Close()
	if r1.Size() != r2.Size() || !r1.ModTime().Equal(r2.ModTime()) {
		t.Errorf("%q: reader size %d modtime %v; fileblob's %d %v", key, r1.Size(), r1.ModTime(), r2.Size(), r2.ModTime())
	}
}

func listFileblob(t *testing.T, fb *blob.Bucket, prefix string) []string {
	t.Helper()
	it := fb.List(&blob.ListOptions{Prefix: prefix})
	var keys []string
	for {
		o, err := it.Next(context.Background())
		if err == io.EOF {
			return keys
		}
		if err != nil {
			t.Fatalf("fileblob list %q: %v", prefix, err)
		}
		keys = append(keys, o.Key)
	}
}

// tree returns the files and folders of dir with their modes.
func tree(t *testing.T, dir string) map[string]fs.FileMode {
	t.Helper()
	out := map[string]fs.FileMode{}
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if e.IsDir() && e.Name() == fsdriver.TempDir {
			return filepath.SkipDir
		}
		fi, _ := e.Info()
		rel, _ := filepath.Rel(dir, p)
		out[rel] = fi.Mode()
		return nil
	})
	return out
}

// TestAttrsKeysAreFiles: a key ending in ".attrs" (a package's
// docs/README.md.attrs) is an ordinary object on folders, as on cloud
// buckets: it reads back, lists, and neither it nor its sibling is taken
// for metadata (gocloud's file driver answered errors for both when the
// file was not its JSON).
func TestAttrsKeysAreFiles(t *testing.T) {
	ctx := context.Background()
	d, err := fsdriver.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const readme, attrs = "artifacts/static/p-1.0.0/docs/README.md", "artifacts/static/p-1.0.0/docs/README.md.attrs"
	for key, body := range map[string]string{readme: "# p", attrs: "not JSON {"} {
		if err := d.WriteAll(ctx, key, []byte(body), nil); err != nil {
			t.Fatalf("write %s: %v", key, err)
		}
	}
	for key, want := range map[string]string{readme: "# p", attrs: "not JSON {"} {
		if got, err := d.ReadAll(ctx, key); err != nil || string(got) != want {
			t.Errorf("read %s: %q, %v; want %q", key, got, err, want)
		}
	}
	objs, err := d.List(ctx, &driver.ListOptions{Prefix: "artifacts/static/p-1.0.0/"})
	if err != nil || len(objs) != 2 || objs[0].Key != readme || objs[1].Key != attrs {
		t.Fatalf("list: %+v, %v", objs, err)
	}
	if err := d.Delete(ctx, readme); err != nil {
		t.Fatal(err)
	}
	if got, err := d.ReadAll(ctx, attrs); err != nil || string(got) != "not JSON {" {
		t.Errorf("after deleting %s, %s reads %q, %v", readme, attrs, got, err)
	}
}
