package fsdriver_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"pkgstore/internal/storage"
	"pkgstore/internal/storage/fsdriver"
)

func listKeys(t *testing.T, b *storage.Bucket, prefix string) []string {
	t.Helper()
	objs, err := b.ListAll(context.Background(), &storage.ListOptions{Prefix: prefix})
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

// assertNoTemp checks that nothing is left in the bucket's temporary folder.
func assertNoTemp(t *testing.T, b *storage.Bucket) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dirOf(b), fsdriver.TempDir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("left behind in %s: %s", fsdriver.TempDir, e.Name())
	}
}

func TestTreeReplacesEarlierCommit(t *testing.T) {
	// A publication that crashed after committing its tree is retried: the
	// retry's tree replaces the first, leftovers included.
	ctx := context.Background()
	b, err := storage.OpenDir(t.TempDir())
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

func TestNewTreeRefusesBadPrefix(t *testing.T) {
	b, err := storage.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, p := range []string{"", "artifacts/static/a-1.0.0", "/abs/", "a/../", "./b/", "a/./b/", ".pkgstore-tmp/x/"} {
		if tr, err := b.NewTree(context.Background(), p); err == nil {
			tr.Discard()
			t.Errorf("NewTree(%q) succeeded", p)
		}
	}
}

func TestStageFileLinksLocalObjects(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	internal, err := storage.OpenDir(filepath.Join(root, "internal"))
	if err != nil {
		t.Fatal(err)
	}
	public, err := storage.OpenDir(filepath.Join(root, "public"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { internal.Close(); public.Close() }()
	body := bytes.Repeat([]byte("zip bytes "), 1000)
	const queued = "queue-publishing/sub/a-1.0.0.zip"
	if err := internal.WriteAll(ctx, queued, body, nil); err != nil {
		t.Fatal(err)
	}

	if _, err := internal.OpenLocal("queue-publishing/none.zip"); !storage.IsNotFound(err) {
		t.Fatalf("OpenLocal of a missing key = %v, want not found", err)
	}
	f, err := internal.OpenLocal(queued)
	if err != nil || f == nil {
		t.Fatalf("OpenLocal = %v, %v", f, err)
	}
	defer f.Close()

	for _, tc := range []struct {
		name string
		b    *storage.Bucket
		size int64
		link bool
	}{
		{"same file system", public, int64(len(body)), true},
		{"size mismatch copies", public, int64(len(body)) - 10, false},
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
			{
				fi1, _ := f.Stat()
				fi2, err := os.Stat(filepath.Join(dirOf(tc.b), key))
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
			if err := s.Commit(ctx); !errors.Is(err, storage.ErrExists) {
				t.Fatalf("second Commit = %v, want storage.ErrExists", err)
			}
		})
	}
}
