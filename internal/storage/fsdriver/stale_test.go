package fsdriver_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"pkgstore/internal/storage"
)

// TestRemoveStaleTemp: the temporary file of an upload whose writer died
// (queue-publishing/<id>/NAME-VERSION.zip.<hex>.tmp) is hidden from every
// listing, so no DeletePrefix of the queue entry removes it and its folder
// stays forever. RemoveStaleTemp removes the old ones, and the folders that
// leaves empty, and nothing else: not a write in progress (fresh file),
// not an object, not a folder holding one.
func TestRemoveStaleTemp(t *testing.T) {
	const stale = "queue-publishing/1-aa/a-1.0.0.zip.18b3c1d2e3f4a5b6.tmp"
	old := time.Now().Add(-2 * time.Hour)
	for _, tc := range []struct {
		name        string
		files       map[string]time.Time // bucket-relative path: mtime
		max         int
		wantRemoved []string
		wantKept    []string // paths that must still exist
		wantGone    []string // paths (files or folders) that must not
	}{
		{
			name:        "crashed upload: file and folder go",
			files:       map[string]time.Time{stale: old},
			max:         10,
			wantRemoved: []string{stale},
			wantGone:    []string{stale, "queue-publishing/1-aa"},
			wantKept:    []string{"queue-publishing"},
		},
		{
			name:     "an upload in progress stays",
			files:    map[string]time.Time{stale: time.Now()},
			max:      10,
			wantKept: []string{stale},
		},
		{
			name: "beside a complete object: the temporary file goes, the folder stays",
			files: map[string]time.Time{
				"queue-publishing/1-aa/a-1.0.0.zip":                          old,
				"queue-publishing/1-aa/a-1.0.0.zip.sig.18b3c1d2e3f4a5b7.tmp": old,
			},
			max:         10,
			wantRemoved: []string{"queue-publishing/1-aa/a-1.0.0.zip.sig.18b3c1d2e3f4a5b7.tmp"},
			wantKept:    []string{"queue-publishing/1-aa/a-1.0.0.zip"},
		},
		{
			name: "old objects that merely look temporary to a person stay",
			files: map[string]time.Time{
				"queue-publishing/1-aa/notes.tmp":     old,
				"queue-publishing/1-aa/a-1.0.0.zip.1": old,
			},
			max:      10,
			wantKept: []string{"queue-publishing/1-aa/notes.tmp", "queue-publishing/1-aa/a-1.0.0.zip.1"},
		},
		{
			name: "outside the prefix: untouched",
			files: map[string]time.Time{
				"pkgstore/submissions/1-aa.json.18b3c1d2e3f4a5b8.tmp": old,
			},
			max:      10,
			wantKept: []string{"pkgstore/submissions/1-aa.json.18b3c1d2e3f4a5b8.tmp"},
		},
		{
			name: "bounded: at most max a call",
			files: map[string]time.Time{
				"queue-publishing/1-aa/a-1.0.0.zip.18b3c1d2e3f4a5b6.tmp": old,
				"queue-publishing/2-bb/b-1.0.0.zip.18b3c1d2e3f4a5b6.tmp": old,
				"queue-publishing/3-cc/c-1.0.0.zip.18b3c1d2e3f4a5b6.tmp": old,
			},
			max: 2,
			wantRemoved: []string{
				"queue-publishing/1-aa/a-1.0.0.zip.18b3c1d2e3f4a5b6.tmp",
				"queue-publishing/2-bb/b-1.0.0.zip.18b3c1d2e3f4a5b6.tmp",
			},
			wantKept: []string{"queue-publishing/3-cc/c-1.0.0.zip.18b3c1d2e3f4a5b6.tmp"},
		},
		{
			name: "no queue folder at all",
			max:  10,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			b, err := storage.OpenDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			os.MkdirAll(filepath.Join(dir, "queue-publishing"), 0o755)
			for rel, mtime := range tc.files {
				p := filepath.Join(dir, filepath.FromSlash(rel))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Chtimes(p, mtime, mtime); err != nil {
					t.Fatal(err)
				}
			}
			removed, err := b.RemoveStaleTemp(context.Background(), "queue-publishing/", time.Now().Add(-time.Hour), tc.max)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(removed)
			if !slices.Equal(removed, tc.wantRemoved) {
				t.Errorf("removed %q, want %q", removed, tc.wantRemoved)
			}
			for _, rel := range tc.wantKept {
				if _, err := os.Stat(filepath.Join(dir, rel)); err != nil {
					t.Errorf("%s: %v, want it kept", rel, err)
				}
			}
			for _, rel := range tc.wantGone {
				if _, err := os.Stat(filepath.Join(dir, rel)); !os.IsNotExist(err) {
					t.Errorf("%s still there (%v)", rel, err)
				}
			}
		})
	}
}

// TestRemoveStaleTempCloud: cloud buckets leave no temporary objects, and
// the call does nothing there.
func TestRemoveStaleTempCloud(t *testing.T) {
	ctx := context.Background()
	b, err := storage.OpenURL(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	key := "queue-publishing/1-aa/a-1.0.0.zip.18b3c1d2e3f4a5b6.tmp"
	if err := b.WriteAll(ctx, key, []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	removed, err := b.RemoveStaleTemp(ctx, "queue-publishing/", time.Now().Add(time.Hour), 10)
	if err != nil || len(removed) != 0 {
		t.Fatalf("RemoveStaleTemp = %q, %v; want nothing", removed, err)
	}
	if ok, _ := b.Exists(ctx, key); !ok {
		t.Fatal("an object of a cloud bucket was removed")
	}
}
