package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"gocloud.dev/blob"
)

// treeBackends are the bucket kinds a Tree behaves differently on: a file
// bucket (private folder, renamed on Commit) and a cloud-like one (each
// object written to its key at once).
func treeBackends(t *testing.T) map[string]*Bucket {
	t.Helper()
	dir, err := OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mem, err := OpenURL(context.Background(), "mem://")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close(); mem.Close() })
	return map[string]*Bucket{"file": dir, "mem": mem}
}

func listKeys(t *testing.T, b *Bucket, prefix string) []string {
	t.Helper()
	objs, err := b.ListAll(context.Background(), &blob.ListOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	sort.Strings(keys)
	return keys
}

func TestTreeCommit(t *testing.T) {
	ctx := context.Background()
	// Keys that need the file driver's escaping go the slow way on file
	// buckets and must land where its reads look.
	files := map[string]string{
		"manifest.yml":                          "name: a",
		"docs/README.md":                        "# a",
		"img/[Logs] Screen shot.png":            "png",
		"data_stream/x/fields/fields.yml":       "- name: x",
		"data_stream/x/agent/stream/s.yml.hbs":  "{{x}}",
		"kibana/a__0x41__b.json":                "escaped by the driver",
		"docs/tab\there.md":                     "control character",
		"data_stream/x/fields/deeper/a/b/c.yml": "deep",
	}
	for name, b := range treeBackends(t) {
		t.Run(name, func(t *testing.T) {
			const prefix = "artifacts/static/a-1.0.0/"
			tr, err := b.NewTree(ctx, prefix)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for rel, body := range files {
				wg.Go(func() {
					if err := tr.WriteFile(ctx, rel, strings.NewReader(body), nil); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if name == "file" {
				if got := listKeys(t, b, prefix); len(got) != 0 {
					t.Fatalf("before Commit, the bucket shows %v", got)
				}
			}
			if err := tr.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			tr.Discard() // a no-op after Commit
			var want []string
			for rel, body := range files {
				want = append(want, prefix+rel)
				got, err := b.ReadAll(ctx, prefix+rel)
				if err != nil || string(got) != body {
					t.Errorf("%s = %q, %v; want %q", rel, got, err, body)
				}
			}
			sort.Strings(want)
			if got := listKeys(t, b, prefix); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("keys after Commit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if name == "file" {
				assertNoTemp(t, b)
			}
		})
	}
}

// assertNoTemp checks that nothing is left in the bucket's temporary folder.
func assertNoTemp(t *testing.T, b *Bucket) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(b.dir, tempDir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("left behind in %s: %s", tempDir, e.Name())
	}
}

func TestTreeReplacesEarlierCommit(t *testing.T) {
	// A publication that crashed after committing its tree is retried: the
	// retry's tree replaces the first, leftovers included.
	ctx := context.Background()
	b, err := OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const prefix = "artifacts/static/a-1.0.0/"
	for i, set := range []map[string]string{
		{"docs/README.md": "first", "old.txt": "only in the first"},
		{"docs/README.md": "second", "manifest.yml": "m"},
	} {
		tr, err := b.NewTree(ctx, prefix)
		if err != nil {
			t.Fatal(err)
		}
		for rel, body := range set {
			if err := tr.WriteFile(ctx, rel, strings.NewReader(body), nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := tr.Commit(ctx); err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	got := listKeys(t, b, prefix)
	want := []string{prefix + "docs/README.md", prefix + "manifest.yml"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("keys = %v, want %v", got, want)
	}
	if body, _ := b.ReadAll(ctx, prefix+"docs/README.md"); string(body) != "second" {
		t.Fatalf("README = %q, want the second tree's", body)
	}
	assertNoTemp(t, b)
}

func TestTreeDiscard(t *testing.T) {
	ctx := context.Background()
	for name, b := range treeBackends(t) {
		t.Run(name, func(t *testing.T) {
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
			if name == "file" {
				if got := listKeys(t, b, "artifacts/"); len(got) != 0 {
					t.Fatalf("after Discard the bucket shows %v", got)
				}
				assertNoTemp(t, b)
				if err := tr.Commit(ctx); err == nil {
					t.Fatal("Commit after Discard succeeded")
				}
			}
		})
	}
}

func TestNewTreeRefusesBadPrefix(t *testing.T) {
	b, err := OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, p := range []string{"", "artifacts/static/a-1.0.0", "/abs/", "a/../b/", "a//b/"} {
		if tr, err := b.NewTree(context.Background(), p); err == nil {
			tr.Discard()
			t.Errorf("NewTree(%q) succeeded", p)
		}
	}
}

func TestStageFileLinksLocalObjects(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	internal, err := OpenDir(filepath.Join(root, "internal"))
	if err != nil {
		t.Fatal(err)
	}
	public, err := OpenDir(filepath.Join(root, "public"))
	if err != nil {
		t.Fatal(err)
	}
	mem, err := OpenURL(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { internal.Close(); public.Close(); mem.Close() }()
	body := bytes.Repeat([]byte("zip bytes "), 1000)
	const queued = "queue-publishing/sub/a-1.0.0.zip"
	if err := internal.WriteAll(ctx, queued, body, nil); err != nil {
		t.Fatal(err)
	}

	if f, err := mem.OpenLocal(queued); f != nil || err != nil {
		t.Fatalf("OpenLocal on a cloud bucket = %v, %v; want nil, nil", f, err)
	}
	if _, err := internal.OpenLocal("queue-publishing/none.zip"); !IsNotFound(err) {
		t.Fatalf("OpenLocal of a missing key = %v, want not found", err)
	}
	f, err := internal.OpenLocal(queued)
	if err != nil || f == nil {
		t.Fatalf("OpenLocal = %v, %v", f, err)
	}
	defer f.Close()

	for _, tc := range []struct {
		name string
		b    *Bucket
		size int64
		link bool
	}{
		{"same file system", public, int64(len(body)), true},
		{"size mismatch copies", public, int64(len(body)) - 10, false},
		{"cloud bucket", mem, int64(len(body)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "artifacts/packages/" + strings.ReplaceAll(tc.name, " ", "-") + ".zip"
			s, err := tc.b.StageFile(ctx, key, f, tc.size, nil)
			if err != nil {
				t.Fatal(err)
			}
			if ok, _ := tc.b.Exists(ctx, key); ok {
				t.Fatal("staged object is visible before Commit")
			}
			if err := s.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := tc.b.ReadAll(ctx, key)
			if err != nil || !bytes.Equal(got, body[:tc.size]) {
				t.Fatalf("committed object: %d bytes, %v; want %d", len(got), err, tc.size)
			}
			if tc.b.dir != "" {
				fi1, _ := f.Stat()
				fi2, err := os.Stat(filepath.Join(tc.b.dir, key))
				if err != nil {
					t.Fatal(err)
				}
				if os.SameFile(fi1, fi2) != tc.link {
					t.Fatalf("same file as the queued one: %v, want %v", !tc.link, tc.link)
				}
				assertNoTemp(t, tc.b)
			}
			// Create-if-absent holds for linked objects too.
			s, err = tc.b.StageFile(ctx, key, f, tc.size, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Commit(ctx); !errors.Is(err, ErrExists) {
				t.Fatalf("second Commit = %v, want ErrExists", err)
			}
		})
	}
}
