// Package drivertest is the conformance suite of storage drivers, as
// gocloud's blob/drivertest is for its drivers: RunConformanceTests runs
// the contract of driver.Bucket (through the portable *storage.Bucket
// callers use) against one backend. fsdriver's tests run it on folders,
// blobdriver's on memory buckets, fake-gcs-server and MinIO.
package drivertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"pkgstore/internal/storage"
	"pkgstore/internal/storage/driver"
)

// Harness describes a backend.
type Harness struct {
	// Open returns a fresh, empty bucket, closed by the suite.
	Open func(t *testing.T) driver.Bucket
	// Folder: the backend keeps objects in local files (OpenLocal returns
	// them) and trees are private until Commit.
	Folder bool
	// Chunked, if set, are writer options that make a large object go
	// through the backend's chunked upload, raced for with a 17 MiB
	// object by the create-if-absent test.
	Chunked *storage.WriterOptions
	// Check, if set, runs at the end of every test of the suite, on its
	// bucket (a folder driver checks that nothing is left in its
	// reserved folder).
	Check func(t *testing.T, b driver.Bucket)
}

// RunConformanceTests runs the suite against h.
func RunConformanceTests(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness, b *storage.Bucket)
	}{
		{"ReadWrite", testReadWrite},
		{"Keys", testKeys},
		{"NotFound", testNotFound},
		{"Writer", testWriter},
		{"Cancel", testCancel},
		{"List", testList},
		{"Delete", testDelete},
		{"CreateIfAbsent", testCreateIfAbsent},
		{"CreateIfAbsentRace", testCreateIfAbsentRace},
		{"Stage", testStage},
		{"StageFile", testStageFile},
		{"Tree", testTree},
		{"TreeDiscard", testTreeDiscard},
		{"Sync", testSync},
		{"ContentType", testContentType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := h.Open(t)
			b := storage.NewBucket(d)
			t.Cleanup(func() {
				if err := b.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(t, h, b)
			if h.Check != nil {
				h.Check(t, d)
			}
		})
	}
}

var errSource = errors.New("connection reset")

// failingReader returns some bytes, then an error.
func failingReader() io.Reader {
	return io.MultiReader(strings.NewReader("partial"), iotest.ErrReader(errSource))
}

func listKeys(t *testing.T, b *storage.Bucket, prefix, delim string) []string {
	t.Helper()
	objs, err := b.ListAll(context.Background(), &storage.ListOptions{Prefix: prefix, Delimiter: delim})
	if err != nil {
		t.Fatalf("list %q: %v", prefix, err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	return keys
}

func mustRead(t *testing.T, b *storage.Bucket, key, want string) {
	t.Helper()
	got, err := b.ReadAll(context.Background(), key)
	if err != nil || string(got) != want {
		t.Errorf("read %q = %.40q, %v; want %.40q", key, got, err, want)
	}
}

func mustAbsent(t *testing.T, b *storage.Bucket, key string) {
	t.Helper()
	if ok, err := b.Exists(context.Background(), key); ok || err != nil {
		t.Errorf("%q exists (%v, %v); want absent", key, ok, err)
	}
}

func testReadWrite(t *testing.T, h Harness, b *storage.Bucket) {
	ctx := context.Background()
	const key = "pkgstore/submissions/s.json"
	before := time.Now().Add(-2 * time.Second)
	if err := b.WriteAll(ctx, key, []byte(`{"v":1}`), &storage.WriterOptions{ContentType: "application/json"}); err != nil {
		t.Fatal(err)
	}
	mustRead(t, b, key, `{"v":1}`)
	if ok, err := b.Exists(ctx, key); !ok || err != nil {
		t.Errorf("Exists = %v, %v", ok, err)
	}
	// Overwrite.
	if err := b.WriteAll(ctx, key, []byte(`{"v":22}`), nil); err != nil {
		t.Fatal(err)
	}
	mustRead(t, b, key, `{"v":22}`)
	a, err := b.Attributes(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if a.Size != 8 || a.ModTime.Before(before) || a.ModTime.After(time.Now().Add(2*time.Second)) {
		t.Errorf("attributes %+v", a)
	}
	// Streamed writes, larger than a copy buffer.
	big := bytes.Repeat([]byte("0123456789abcdef"), 20_000)
	const bigKey = "queue-publishing/1-ab/a-1.0.0.zip"
	if err := b.WriteFile(ctx, bigKey, bytes.NewReader(big), nil); err != nil {
		t.Fatal(err)
	}
	// A reader reports size and modification time, and seeks (what
	// http.ServeContent needs).
	r, err := b.NewReader(ctx, bigKey)
	if err != nil {
		t.Fatal(err)
	}
	if r.Size() != int64(len(big)) || r.ModTime().Before(before) {
		t.Errorf("reader size %d, modtime %v", r.Size(), r.ModTime())
	}
	if n, err := r.Seek(0, io.SeekEnd); n != int64(len(big)) || err != nil {
		t.Errorf("seek to the end: %d, %v", n, err)
	}
	if _, err := r.Seek(100, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, big[100:]) {
		t.Errorf("read after seek: %d bytes, %v", len(got), err)
	}
	r.Close()
	// Ranges.
	for _, rg := range [][2]int64{{0, 10}, {5, -1}, {int64(len(big)) - 3, 3}, {1000, 0}} {
		r, err := b.NewRangeReader(ctx, bigKey, rg[0], rg[1])
		if err != nil {
			t.Fatalf("range %v: %v", rg, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		want := big[rg[0]:]
		if rg[1] >= 0 {
			want = want[:rg[1]]
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("range %v: %d bytes, %v; want %d", rg, len(got), err, len(want))
		}
	}
	// Empty objects.
	if err := b.WriteAll(ctx, "empty", nil, nil); err != nil {
		t.Fatal(err)
	}
	mustRead(t, b, "empty", "")
	// OpenLocal.
	f, err := b.OpenLocal(bigKey)
	switch {
	case h.Folder && (err != nil || f == nil):
		t.Errorf("OpenLocal on a folder = %v, %v", f, err)
	case !h.Folder && (err != nil || f != nil):
		t.Errorf("OpenLocal on a cloud bucket = %v, %v; want nil, nil", f, err)
	}
	if f != nil {
		data, _ := io.ReadAll(f)
		f.Close()
		if !bytes.Equal(data, big) {
			t.Errorf("OpenLocal reads %d bytes", len(data))
		}
	}
}

// keys are names packages and the layout produce: spaces, brackets,
// non-ASCII, names gocloud's file driver escapes, names sharing a string
// prefix.
var keys = []string{
	"artifacts/packages/cassandra-1.1.0.zip",
	"artifacts/packages/a__0x41__b-1.0.0.zip",
	"artifacts/static/cassandra-1.1.0/img/[Logs Cassandra] System Logs.jpg",
	"artifacts/static/cassandra-1.1.0/docs/README.md",
	"artifacts/static/cassandra-1.1.0/docs/README.md.attrs", // gocloud's file driver took it for a sidecar
	"artifacts/static/cassandra-1.1.0/kibana/dashboard/cassandra-(1) 100% & more+plus.json",
	"artifacts/static/cassandra-1.1.0/i18n/données é.txt",
	"artifacts/static/cassandra-1.1.0/kibana/x__0x__y.json",
	"artifacts/static/cassandra-1.10.0/manifest.yml",
	"artifacts/static/other-2.0.0/manifest.yml",
	"pkgstore/claims/__0x5f____0x7a__-1.0.0@000001",
	"v2/metadata/cursor.json",
}

func body(k string) []byte { return []byte("content of " + k) }

func testKeys(t *testing.T, h Harness, b *storage.Bucket) {
	ctx := context.Background()
	for _, k := range keys {
		if err := b.WriteFile(ctx, k, bytes.NewReader(body(k)), nil); err != nil {
			t.Fatalf("write %q: %v", k, err)
		}
	}
	for _, k := range keys {
		mustRead(t, b, k, string(body(k)))
		a, err := b.Attributes(ctx, k)
		if err != nil || a.Size != int64(len(body(k))) {
			t.Errorf("attributes %q: %+v, %v", k, a, err)
		}
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	if got := listKeys(t, b, "", ""); !slices.Equal(got, want) {
		t.Errorf("listed\n%q\nwant\n%q", got, want)
	}
	// Characters a driver escapes in the stored name (Azure: # and % as
	// __0x23__, __0x25__) must not change the listing order: listings are
	// sorted by the keys themselves.
	const dir = "artifacts/static/order-1.0.0/"
	ordered := []string{dir + "a b.txt", dir + "a#b.txt", dir + "a%b.txt", dir + "a-b.txt", dir + "a.b.txt", dir + "aZb.txt", dir + "a_b.txt"}
	for _, k := range ordered {
		if err := b.WriteAll(ctx, k, body(k), nil); err != nil {
			t.Fatalf("write %q: %v", k, err)
		}
	}
	for _, delim := range []string{"", "/"} {
		if got := listKeys(t, b, dir, delim); !slices.Equal(got, ordered) {
			t.Errorf("list(%q, %q) =\n%q\nwant\n%q", dir, delim, got, ordered)
		}
	}
	// A prefix selects by the keys, not by their stored names (a#b.txt is
	// stored as a__0x23__b.txt on Azure, which starts with a_).
	for prefix, want := range map[string][]string{
		dir + "a_":  {dir + "a_b.txt"},
		dir + "a__": nil,
		dir + "a%":  {dir + "a%b.txt"},
		dir + "a#b": {dir + "a#b.txt"},
	} {
		for _, delim := range []string{"", "/"} {
			if got := listKeys(t, b, prefix, delim); !slices.Equal(got, want) {
				t.Errorf("list(%q, %q) = %q, want %q", prefix, delim, got, want)
			}
		}
	}
	// ... and so does a deletion by prefix.
	if err := b.DeletePrefix(ctx, dir+"a_"); err != nil {
		t.Fatal(err)
	}
	if got, want := listKeys(t, b, dir, ""), slices.Delete(slices.Clone(ordered), 6, 7); !slices.Equal(got, want) {
		t.Errorf("after DeletePrefix(%q): %q, want %q", dir+"a_", got, want)
	}
}

func testNotFound(t *testing.T, h Harness, b *storage.Bucket) {
	ctx := context.Background()
	const key = "artifacts/static/missing/x.md"
	if err := b.WriteAll(ctx, "artifacts/static/other/x.md", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ReadAll(ctx, key); !errors.Is(err, storage.ErrNotExist) || !storage.IsNotFound(err) {
		t.Errorf("ReadAll: %v", err)
	}
	if _, err := b.NewReader(ctx, key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("NewReader: %v", err)
	}
	if _, err := b.NewRangeReader(ctx, key, 1, 2); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("NewRangeReader: %v", err)
	}
	if _, err := b.Attributes(ctx, key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Attributes: %v", err)
	}
	if ok, err := b.Exists(ctx, key); ok || err != nil {
		t.Errorf("Exists: %v, %v", ok, err)
	}
	// A prefix of existing keys is no object.
	if ok, err := b.Exists(ctx, "artifacts/static/other"); ok || err != nil {
		t.Errorf("Exists of a folder: %v, %v", ok, err)
	}
	if _, err := b.ReadAll(ctx, "artifacts/static/other"); !storage.IsNotFound(err) {
		t.Errorf("ReadAll of a folder: %v", err)
	}
	if err := b.Delete(ctx, key); !storage.IsNotFound(err) {
		t.Errorf("Delete: %v", err)
	}
	// A key under an object (a static file taken for a folder: the
	// registry's /package/N/V/docs/README.md/x) is an absent key, as on
	// cloud buckets, where keys are only names.
	for _, under := range []string{"artifacts/static/other/x.md/y", "artifacts/static/other/x.md/y/z"} {
		if _, err := b.ReadAll(ctx, under); !storage.IsNotFound(err) {
			t.Errorf("ReadAll(%s): %v", under, err)
		}
		if _, err := b.NewReader(ctx, under); !storage.IsNotFound(err) {
			t.Errorf("NewReader(%s): %v", under, err)
		}
		if _, err := b.NewRangeReader(ctx, under, 1, 2); !storage.IsNotFound(err) {
			t.Errorf("NewRangeReader(%s): %v", under, err)
		}
		if _, err := b.Attributes(ctx, under); !storage.IsNotFound(err) {
			t.Errorf("Attributes(%s): %v", under, err)
		}
		if ok, err := b.Exists(ctx, under); ok || err != nil {
			t.Errorf("Exists(%s): %v, %v", under, ok, err)
		}
		if err := b.Delete(ctx, under); !storage.IsNotFound(err) {
			t.Errorf("Delete(%s): %v", under, err)
		}
	}
}

func testWriter(t *testing.T, h Harness, b *storage.Bucket) {
	ctx := context.Background()
	const key = "v2/metadata/0001/search-index-all.json"
	w, err := b.NewWriter(ctx, key, &storage.WriterOptions{ContentType: "application/json"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		fmt.Fprintf(w, "line %d\n", i)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := b.ReadAll(ctx, key)
	if err != nil || !bytes.HasPrefix(got, []byte("line 0\n")) || !bytes.HasSuffix(got, []byte("line 999\n")) {
		t.Fatalf("written %d bytes, %v", len(got), err)
	}
	// Abort leaves the old object.
	w, err = b.NewWriter(ctx, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "partial")
	w.Abort()
	w.Abort() // twice is fine
	if again, _ := b.ReadAll(ctx, key); !bytes.Equal(again, got) {
		t.Errorf("after Abort: %.20q", again)
	}
	// Cancelling the context before Close discards.
	cctx, cancel := context.WithCancel(ctx)
	w, err = b.NewWriter(cctx, "v2/metadata/0002/search-index-all.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "partial")
	cancel()
	if err := w.Close(); err == nil {
		t.Error("Close after cancel succeeded")
	}
	mustAbsent(t, b, "v2/metadata/0002/search-index-all.json")
	if h.Folder {
		if got := listKeys(t, b, "", ""); !slices.Equal(got, []string{key}) {
			t.Errorf("bucket holds %q", got)
		}
	}
}

func testCancel(t *testing.T, h Harness, b *storage.Bucket) {
	ctx := context.Background()
	if err := b.WriteAll(ctx, "q/kept.zip", []byte("kept"), nil); err != nil {
		t.Fatal(err)
	}
	// A failing source leaves the object as it was, or absent.
	if err := b.WriteFile(ctx, "q/kept.zip", failingReader(), nil); !errors.Is(err, errSource) {
		t.Errorf("WriteFile of a failing source: %v", err)
	}
	mustRead(t, b, "q/kept.zip", "kept")
	if err := b.WriteFile(ctx, "q/new/a.zip", failingReader(), nil); !errors.Is(err, errSource) {
		t.Errorf("WriteFile of a failing source: %v", err)
	}
	mustAbsent(t, b, "q/new/a.zip")
	if err := b.CreateIfAbsent(ctx, "q/created.zip", failingReader(), nil); !errors.Is(err, errSource) {
		t.Errorf("CreateIfAbsent of a failing source: %v", err)
	}
	mustAbsent(t, b, "q/created.zip")
	// ... and the key can still be created.
	if err := b.CreateIfAbsent(ctx, "q/created.zip", strings.NewReader("ok"), nil); err != nil {
		t.Errorf("create after a failed create: %v", err)
	}
	// A cancelled context writes nothing.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.WriteAll(cctx, "q/kept.zip", []byte("lost"), nil); err == nil {
		t.Error("WriteAll with a cancelled context succeeded")
	}
	if err := b.WriteFile(cctx, "q/kept.zip", strings.NewReader("lost"), nil); err == nil {
		t.Error("WriteFile with a cancelled context succeeded")
	}
	if err := b.CreateIfAbsent(cctx, "q/cancelled.zip", strings.NewReader("lost"), nil); err == nil {
		t.Error("CreateIfAbsent with a cancelled context succeeded")
	}
	mustRead(t, b, "q/kept.zip", "kept")
	mustAbsent(t, b, "q/cancelled.zip")
	// A source cancelled half-way.
	cctx, cancel = context.WithCancel(ctx)
	src := io.MultiReader(strings.NewReader(strings.Repeat("x", 100<<10)), readerFunc(func([]byte) (int, error) {
		cancel()
		return 0, cctx.Err()
	}))
	if err := b.WriteFile(cctx, "q/half.zip", src, nil); err == nil {
		t.Error("WriteFile cancelled half-way succeeded")
	}
	mustAbsent(t, b, "q/half.zip")
	if got := listKeys(t, b, "", ""); !slices.Equal(got, []string{"q/created.zip", "q/kept.zip"}) {
		t.Errorf("bucket holds %q", got)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func testList(t *testing.T, h Harness, b *storage.Bucket) {
	ctx := context.Background()
	for _, k := range keys {
		if err := b.WriteAll(ctx, k, body(k), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, lt := range []struct {
		prefix, delim string
		want          []string
	}{
		{"artifacts/static/cassandra-1.1.0/", "", []string{
			"artifacts/static/cassandra-1.1.0/docs/README.md",
			"artifacts/static/cassandra-1.1.0/docs/README.md.attrs",
			"artifacts/static/cassandra-1.1.0/i18n/données é.txt",
			"artifacts/static/cassandra-1.1.0/img/[Logs Cassandra] System Logs.jpg",
			"artifacts/static/cassandra-1.1.0/kibana/dashboard/cassandra-(1) 100% & more+plus.json",
			"artifacts/static/cassandra-1.1.0/kibana/x__0x__y.json",
		}},
		{"artifacts/static/cassandra-1.1.0/img/[", "", []string{
			"artifacts/static/cassandra-1.1.0/img/[Logs Cassandra] System Logs.jpg",
		}},
		{"artifacts/static/cassandra-1.1", "", []string{
			"artifacts/static/cassandra-1.1.0/docs/README.md",
			"artifacts/static/cassandra-1.1.0/docs/README.md.attrs",
			"artifacts/static/cassandra-1.1.0/i18n/données é.txt",
			"artifacts/static/cassandra-1.1.0/img/[Logs Cassandra] System Logs.jpg",
			"artifacts/static/cassandra-1.1.0/kibana/dashboard/cassandra-(1) 100% & more+plus.json",
			"artifacts/static/cassandra-1.1.0/kibana/x__0x__y.json",
			"artifacts/static/cassandra-1.10.0/manifest.yml",
		}},
		{"artifacts/static/", "/", []string{
			"artifacts/static/cassandra-1.1.0/",
			"artifacts/static/cassandra-1.10.0/",
			"artifacts/static/other-2.0.0/",
		}},
		{"artifacts/", "/", []string{"artifacts/packages/", "artifacts/static/"}},
		{"", "/", []string{"artifacts/", "pkgstore/", "v2/"}},
		{"artifacts/packages/", "/", []string{
			"artifacts/packages/a__0x41__b-1.0.0.zip",
			"artifacts/packages/cassandra-1.1.0.zip",
		}},
		{"pkgstore/claims/__0x5f", "", []string{"pkgstore/claims/__0x5f____0x7a__-1.0.0@000001"}},
		{"pkgstore/claims/_", "", []string{"pkgstore/claims/__0x5f____0x7a__-1.0.0@000001"}},
		{"nothing/", "", nil},
		{"nothing/", "/", nil},
	} {
		if got := listKeys(t, b, lt.prefix, lt.delim); !slices.Equal(got, lt.want) {
			t.Errorf("list(%q, %q) =\n%q\nwant\n%q", lt.prefix, lt.delim, got, lt.want)
		}
	}
	keys, dirs, err := b.ListLevel(ctx, "artifacts/static/cassandra-1.1.0/kibana/")
	if err != nil || !slices.Equal(keys, []string{"artifacts/static/cassandra-1.1.0/kibana/x__0x__y.json"}) ||
		!slices.Equal(dirs, []string{"artifacts/static/cassandra-1.1.0/kibana/dashboard/"}) {
		t.Errorf("ListLevel = %q, %q, %v", keys, dirs, err)
	}
	objs, err := b.ListAll(ctx, &storage.ListOptions{Prefix: "v2/"})
	if err != nil || len(objs) != 1 || objs[0].Size != int64(len(body("v2/metadata/cursor.json"))) || objs[0].IsDir || time.Since(objs[0].ModTime) > time.Hour {
		t.Errorf("ListAll(v2/) = %+v, %v", objs, err)
	}
}

func testDelete(t *testing.T, h Harness, b *storage.Bucket) {
	ctx := context.Background()
	for _, k := range keys {
		if err := b.WriteAll(ctx, k, body(k), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Delete(ctx, keys[0]); err != nil {
		t.Fatalf("delete %q: %v", keys[0], err)
	}
	if _, err := b.ReadAll(ctx, keys[0]); !storage.IsNotFound(err) {
		t.Errorf("read after delete: %v, want not found", err)
	}
	if err := b.DeletePrefix(ctx, "artifacts/static/cassandra-1.1.0/"); err != nil {
		t.Fatalf("DeletePrefix: %v", err)
	}
	if err := b.DeletePrefix(ctx, "pkgstore/"); err != nil {
		t.Fatalf("DeletePrefix: %v", err)
	}
	if err := b.DeletePrefix(ctx, "nothing/"); err != nil {
		t.Fatalf("DeletePrefix of nothing: %v", err)
	}
	want := []string{
		"artifacts/packages/a__0x41__b-1.0.0.zip",
		"artifacts/static/cassandra-1.10.0/manifest.yml",
		"artifacts/static/other-2.0.0/manifest.yml",
		"v2/metadata/cursor.json",
	}
	if got := listKeys(t, b, "", ""); !slices.Equal(got, want) {
		t.Errorf("after DeletePrefix the bucket holds %q, want %q", got, want)
	}
	if got := listKeys(t, b, "", "/"); !slices.Equal(got, []string{"artifacts/", "v2/"}) {
		t.Errorf("after DeletePrefix the top level is %q", got)
	}
	// Deleted keys can be created again (a crashed publish is cleaned up
	// and retried).
	k := "artifacts/static/cassandra-1.1.0/img/[Logs Cassandra] System Logs.jpg"
	if err := b.CreateIfAbsent(ctx, k, strings.NewReader("again"), nil); err != nil {
		t.Errorf("create after DeletePrefix: %v", err)
	}
	mustRead(t, b, k, "again")
}

func testCreateIfAbsent(t *testing.T, h Harness, b *storage.Bucket) {
	ctx := context.Background()
	for _, key := range []string{
		"artifacts/packages/a__0x41__b-1.0.0.zip",
		"artifacts/packages/x__0x__y-1.0.0.zip",
		"pkgstore/claims/__0x5f____0x7a__-1.0.0@000001",
		"artifacts/static/a-1.0.0/img/[Logs] New.png",
	} {
		if err := b.CreateIfAbsent(ctx, key, strings.NewReader(key), &storage.WriterOptions{ContentType: "application/zip"}); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		mustRead(t, b, key, key)
		if err := b.CreateIfAbsent(ctx, key, strings.NewReader("again"), nil); !errors.Is(err, storage.ErrExists) {
			t.Errorf("%s: second create = %v, want ErrExists", key, err)
		}
		if err := b.CreateIfAbsentNoSync(ctx, key, strings.NewReader("again"), nil); !errors.Is(err, storage.ErrExists) {
			t.Errorf("%s: second create = %v, want ErrExists", key, err)
		}
		mustRead(t, b, key, key)
		if got := listKeys(t, b, key, ""); !slices.Equal(got, []string{key}) {
			t.Errorf("%s: listed as %q", key, got)
		}
	}
	// Over an object written by WriteAll too.
	if err := b.WriteAll(ctx, "pkgstore/r.json", []byte("w"), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateIfAbsent(ctx, "pkgstore/r.json", strings.NewReader("c"), nil); !errors.Is(err, storage.ErrExists) {
		t.Errorf("create over a written object = %v", err)
	}
	if err := b.CreateIfAbsentNoSync(ctx, "pkgstore/nosync.json", strings.NewReader("n"), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	mustRead(t, b, "pkgstore/nosync.json", "n")
}

// Race runs n writers of CreateIfAbsent on key at once, writer i writing
// payload(i), and checks that exactly one wins, that every other one gets
// ErrExists, and that the stored object is the winner's bytes.
func Race(t *testing.T, b *storage.Bucket, key string, n int, payload func(i int) []byte, opts *storage.WriterOptions) {
	t.Helper()
	ctx := context.Background()
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = b.CreateIfAbsent(ctx, key, bytes.NewReader(payload(i)), opts)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("writers %d and %d both won", winner, i)
			}
			winner = i
		case errors.Is(err, storage.ErrExists):
		default:
			t.Errorf("writer %d: %v, want nil or ErrExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no writer won")
	}
	got, err := b.ReadAll(ctx, key)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	if !bytes.Equal(got, payload(winner)) {
		t.Fatalf("stored %d bytes that are not writer %d's (the winner's)", len(got), winner)
	}
	if got := listKeys(t, b, "", ""); !slices.Equal(got, []string{key}) {
		t.Errorf("bucket holds %q, want only %s", got, key)
	}
}

func testCreateIfAbsentRace(t *testing.T, h Harness, b *storage.Bucket) {
	Race(t, b, "artifacts/packages/race-1.0.0.zip", 16, func(i int) []byte { return fmt.Appendf(nil, "writer %d\n", i) }, nil)
	if h.Chunked == nil || testing.Short() {
		return
	}
	// The chunked upload paths (GCS resumable upload, S3 multipart) carry
	// the precondition differently.
	const size = 17 << 20
	b2 := storage.NewBucket(h.Open(t))
	defer b2.Close()
	Race(t, b2, "artifacts/packages/race-2.0.0.zip", 4, func(i int) []byte {
		return append(fmt.Appendf(nil, "writer %d\n", i), bytes.Repeat([]byte{byte('a' + i)}, size)...)
	}, h.Chunked)
}

func testStage(t *testing.T, h Harness, b *storage.Bucket) {
	ctx := context.Background()
	const key = "artifacts/packages/a-1.0.0.zip"
	s, err := b.Stage(ctx, key, bytes.NewReader([]byte("zip")), &storage.WriterOptions{ContentType: "application/zip"})
	if err != nil {
		t.Fatal(err)
	}
	mustAbsent(t, b, key)
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	s.Discard() // a no-op after Commit
	mustRead(t, b, key, "zip")
	if err := s.Commit(ctx); err == nil {
		t.Error("second Commit of one staged object succeeded")
	}
	s2, err := b.Stage(ctx, key, bytes.NewReader([]byte("other")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Commit(ctx); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("second Commit = %v, want ErrExists", err)
	}
	s3, err := b.Stage(ctx, "artifacts/packages/b-1.0.0.zip", bytes.NewReader([]byte("b")), nil)
	if err != nil {
		t.Fatal(err)
	}
	s3.Discard()
	mustAbsent(t, b, "artifacts/packages/b-1.0.0.zip")
	mustRead(t, b, key, "zip")
	if got := listKeys(t, b, "", ""); !slices.Equal(got, []string{key}) {
		t.Errorf("bucket holds %q", got)
	}
}

func testStageFile(t *testing.T, h Harness, b *storage.Bucket) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("zip bytes "), 1000)
	f, err := os.Create(filepath.Join(t.TempDir(), "a.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{int64(len(data)), int64(len(data)) - 10} {
		key := fmt.Sprintf("artifacts/packages/a-%d.zip", size)
		s, err := b.StageFile(ctx, key, f, size, nil)
		if err != nil {
			t.Fatal(err)
		}
		mustAbsent(t, b, key)
		if err := s.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		mustRead(t, b, key, string(data[:size]))
		s, err = b.StageFile(ctx, key, f, size, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctx); !errors.Is(err, storage.ErrExists) {
			t.Fatalf("second Commit = %v, want ErrExists", err)
		}
	}
}

func testTree(t *testing.T, h Harness, b *storage.Bucket) {
	ctx := context.Background()
	files := map[string]string{
		"manifest.yml":                          "name: a",
		"docs/README.md":                        "# a",
		"img/[Logs] Screen shot.png":            "png",
		"data_stream/x/fields/fields.yml":       "- name: x",
		"data_stream/x/agent/stream/s.yml.hbs":  "{{x}}",
		"kibana/a__0x41__b.json":                "escaped by the file driver",
		"docs/tab\there.md":                     "control character",
		"data_stream/x/fields/deeper/a/b/c.yml": "deep",
	}
	const prefix = "artifacts/static/a-1.0.0/"
	for round, set := range []map[string]string{files, {"manifest.yml": "second", "new.md": "n"}} {
		tr, err := b.NewTree(ctx, prefix)
		if err != nil {
			t.Fatal(err)
		}
		if tr.Private() != h.Folder {
			t.Errorf("Private = %v", tr.Private())
		}
		var wg sync.WaitGroup
		for rel, body := range set {
			wg.Go(func() {
				if err := tr.WriteFile(ctx, rel, strings.NewReader(body), &storage.WriterOptions{ContentType: "text/plain"}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if tr.Private() && round == 0 {
			if got := listKeys(t, b, prefix, ""); len(got) != 0 {
				t.Fatalf("before Commit, the bucket shows %v", got)
			}
		}
		if err := tr.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		tr.Discard() // a no-op after Commit
		for rel, body := range set {
			mustRead(t, b, prefix+rel, body)
		}
		if round == 0 {
			var want []string
			for rel := range set {
				want = append(want, prefix+rel)
			}
			slices.Sort(want)
			if got := listKeys(t, b, prefix, ""); !slices.Equal(got, want) {
				t.Errorf("keys after Commit:\n%q\nwant:\n%q", got, want)
			}
		}
	}
	if h.Folder {
		// A second tree at the prefix (a retried publication that crashed
		// after its Commit) replaces the first, leftovers included.
		if got := listKeys(t, b, prefix, ""); !slices.Equal(got, []string{prefix + "manifest.yml", prefix + "new.md"}) {
			t.Errorf("after the second tree: %q", got)
		}
	}
	if got := listKeys(t, b, "", "/"); !slices.Equal(got, []string{"artifacts/"}) {
		t.Errorf("top level: %q", got)
	}
}

func testTreeDiscard(t *testing.T, h Harness, b *storage.Bucket) {
	ctx := context.Background()
	tr, err := b.NewTree(ctx, "artifacts/static/a-1.0.0/")
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.WriteFile(ctx, "docs/README.md", strings.NewReader("x"), nil); err != nil {
		t.Fatal(err)
	}
	// A failing source is an error, whatever the backend.
	err = tr.WriteFile(ctx, "docs/broken.md", iotest.ErrReader(io.ErrUnexpectedEOF), nil)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("WriteFile from a failing reader = %v", err)
	}
	tr.Discard()
	tr.Discard()
	if tr.Private() {
		if got := listKeys(t, b, "", ""); len(got) != 0 {
			t.Fatalf("after Discard the bucket shows %v", got)
		}
		if err := tr.Commit(ctx); err == nil {
			t.Fatal("Commit after Discard succeeded")
		}
		if err := tr.WriteFile(ctx, "late.md", strings.NewReader("x"), nil); err == nil {
			t.Fatal("WriteFile after Discard succeeded")
		}
	}
	for _, p := range []string{"", "artifacts/static/a-1.0.0"} {
		if tr, err := b.NewTree(ctx, p); err == nil {
			tr.Discard()
			t.Errorf("NewTree(%q) succeeded", p)
		}
	}
}

func testSync(t *testing.T, h Harness, b *storage.Bucket) {
	ctx := context.Background()
	if err := b.WriteAll(ctx, "a/b.json", []byte("{}"), nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := b.Sync(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	mustRead(t, b, "a/b.json", "{}")
}

// testContentType checks that every way of writing stores the given type
// (what a public bucket serves over HTTP to the reference EPR and CDNs), and
// that without one the type is sniffed from the bytes as gocloud does.
// Folders store no type.
func testContentType(t *testing.T, h Harness, b *storage.Bucket) {
	if h.Folder {
		t.Skip("folders store no content type")
	}
	ctx := context.Background()
	opts := func(ct string) *storage.WriterOptions { return &storage.WriterOptions{ContentType: ct} }
	big := bytes.Repeat([]byte("0123456789abcdef"), 20_000)
	f, err := os.Create(filepath.Join(t.TempDir(), "a.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(big); err != nil {
		t.Fatal(err)
	}
	tr, err := b.NewTree(ctx, "artifacts/static/t-1.0.0/")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key, want string
		write     func(key string) error
	}{
		{"a/writeall.json", "application/json", func(k string) error { return b.WriteAll(ctx, k, []byte(`{}`), opts("application/json")) }},
		{"a/writefile.svg", "image/svg+xml", func(k string) error { return b.WriteFile(ctx, k, bytes.NewReader(big), opts("image/svg+xml")) }},
		{"a/writer.json", "application/json", func(k string) error {
			w, err := b.NewWriter(ctx, k, opts("application/json"))
			if err != nil {
				return err
			}
			w.Write(big)
			return w.Close()
		}},
		{"a/create.zip", "application/zip", func(k string) error { return b.CreateIfAbsent(ctx, k, bytes.NewReader(big), opts("application/zip")) }},
		{"a/stage.zip", "application/zip", func(k string) error {
			s, err := b.StageFile(ctx, k, f, int64(len(big)), opts("application/zip"))
			if err != nil {
				return err
			}
			return s.Commit(ctx)
		}},
		{"artifacts/static/t-1.0.0/docs/README.md", "text/markdown; charset=utf-8", func(k string) error {
			return tr.WriteFile(ctx, "docs/README.md", strings.NewReader("# t"), opts("text/markdown; charset=utf-8"))
		}},
		{"a/sniffed.html", "text/html; charset=utf-8", func(k string) error {
			return b.WriteFile(ctx, k, strings.NewReader("<!DOCTYPE html><p>x"), nil)
		}},
		{"a/sniffed.bin", "application/octet-stream", func(k string) error { return b.WriteAll(ctx, k, []byte{0, 1, 2, 0xff}, nil) }},
		{"a/sniffed.txt", "text/plain; charset=utf-8", func(k string) error {
			w, err := b.NewWriter(ctx, k, nil)
			if err != nil {
				return err
			}
			w.Write(big)
			return w.Close()
		}},
	} {
		if err := tc.write(tc.key); err != nil {
			t.Fatalf("write %s: %v", tc.key, err)
		}
		a, err := b.Attributes(ctx, tc.key)
		if err != nil {
			t.Fatalf("attributes of %s: %v", tc.key, err)
		}
		if a.ContentType != tc.want {
			t.Errorf("%s: content type %q, want %q", tc.key, a.ContentType, tc.want)
		}
	}
	if err := tr.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}
