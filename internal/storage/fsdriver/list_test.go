package fsdriver_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"pkgstore/internal/storage"
)

// TestListSurvivesVanishingFiles lists a tree while writers create and
// delete objects and whole folders in it: no listing fails.
func TestListSurvivesVanishingFiles(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, err := storage.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				prefix := fmt.Sprintf("queue-publishing/%d-%d/", w, i%7)
				for j := range 5 {
					b.WriteAll(ctx, fmt.Sprintf("%sf%d.zip", prefix, j), []byte("x"), nil)
				}
				b.DeletePrefix(ctx, prefix)
			}
		})
	}
	for range 300 {
		for _, o := range []*storage.ListOptions{{Prefix: "queue-publishing/"}, {Prefix: "queue-publishing/", Delimiter: "/"}, nil} {
			if _, err := b.ListAll(ctx, o); err != nil {
				t.Fatalf("list %+v: %v", o, err)
			}
		}
	}
	cancel()
	wg.Wait()
}

// TestDeletePrefixRemovesFolders: the folders DeletePrefix empties are
// removed, so the tree stays a plain mirror of the keys; their parents are
// left alone.
func TestDeletePrefixRemovesFolders(t *testing.T) {
	ctx := context.Background()
	b, err := storage.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"queue-publishing/s1/a.zip", "queue-publishing/s1/deep/er/b.sig", "queue-publishing/s2/a.zip"} {
		if err := b.WriteAll(ctx, k, []byte("x"), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.DeletePrefix(ctx, "queue-publishing/s1/"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dirOf(b), "queue-publishing", "s1")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("emptied folder left: %v", err)
	}
	if err := b.DeletePrefix(ctx, "queue-publishing/s2/"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dirOf(b), "queue-publishing")); err != nil {
		t.Errorf("parent folder removed: %v", err)
	}
	// An empty folder is no prefix of a listing, but ListLevel (one
	// folder read, nothing more) may show it.
	os.MkdirAll(filepath.Join(dirOf(b), "queue-publishing", "s3", "x"), 0o755)
	if objs, err := b.ListAll(ctx, &storage.ListOptions{Prefix: "queue-publishing/", Delimiter: "/"}); err != nil || len(objs) != 0 {
		t.Errorf("listing shows %+v, %v", objs, err)
	}
}
