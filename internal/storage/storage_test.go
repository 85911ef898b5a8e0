package storage_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pkgstore/internal/storage"
	"pkgstore/internal/storage/blobdriver"
	"pkgstore/internal/storage/fsdriver"
)

func TestOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, tc := range []struct {
		url    string
		folder bool
		ok     bool
	}{
		{"file://" + filepath.ToSlash(filepath.Join(dir, "u")), true, true},
		{"file://" + filepath.ToSlash(dir) + "?metadata=skip", false, false},
		{"mem://", false, true},
		{"nope://x", false, false},
	} {
		b, err := storage.OpenURL(ctx, tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("OpenURL(%q): %v", tc.url, err)
			continue
		}
		if err != nil {
			continue
		}
		switch d := b.Driver().(type) {
		case *fsdriver.Bucket:
			if !tc.folder || d.Dir() != filepath.Join(dir, "u") {
				t.Errorf("OpenURL(%q) opened the folder %s", tc.url, d.Dir())
			}
		case *blobdriver.Bucket:
			if tc.folder {
				t.Errorf("OpenURL(%q) opened a cloud bucket", tc.url)
			}
		}
		b.Close()
	}
	bs, err := storage.Open(ctx, storage.Config{DataDir: dir, InternalURL: "mem://"})
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	if d, ok := bs.Public.Driver().(*fsdriver.Bucket); !ok || d.Dir() != filepath.Join(dir, "public") {
		t.Errorf("public bucket: %T", bs.Public.Driver())
	}
	if _, ok := bs.Internal.Driver().(*blobdriver.Bucket); !ok {
		t.Errorf("internal bucket: %T", bs.Internal.Driver())
	}
	if _, err := storage.Open(ctx, storage.Config{}); err == nil {
		t.Error("Open without a folder or URLs succeeded")
	}
}

func TestBucketsSync(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, cfg := range []storage.Config{
		{DataDir: dir},
		{DataDir: dir, InternalURL: "mem://"},
		{PublicURL: "mem://", InternalURL: "mem://"},
	} {
		bs, err := storage.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := bs.Public.WriteAll(ctx, "a/b.json", []byte("{}"), nil); err != nil {
			t.Fatal(err)
		}
		if err := bs.Sync(ctx); err != nil {
			t.Errorf("%+v: %v", cfg, err)
		}
		bs.Close()
	}
}

// TestOpenMustExist: readers open folders without creating them (issue 21
// item 10: `audit --data /nonexistent` created the folders and read an
// empty store); writers still create them.
func TestOpenMustExist(t *testing.T) {
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "no", "data")
	for _, cfg := range []storage.Config{
		{DataDir: missing, MustExist: true},
		{DataDir: t.TempDir(), InternalURL: "file://" + missing, MustExist: true},
	} {
		if b, err := storage.Open(ctx, cfg); err == nil || !storage.IsNotFound(err) || !strings.Contains(err.Error(), "folder does not exist") {
			if b != nil {
				b.Close()
			}
			t.Errorf("Open(%+v) = %v, want a 'folder does not exist' error matching ErrNotExist", cfg, err)
		}
	}
	if _, err := storage.OpenDirExisting(missing); !storage.IsNotFound(err) {
		t.Errorf("OpenDirExisting(missing) = %v", err)
	}
	if _, err := os.Stat(filepath.Dir(missing)); !os.IsNotExist(err) {
		t.Fatalf("a reader created %s", filepath.Dir(missing))
	}
	b, err := storage.Open(ctx, storage.Config{DataDir: missing})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	b, err = storage.Open(ctx, storage.Config{DataDir: missing, MustExist: true})
	if err != nil {
		t.Fatalf("existing folders: %v", err)
	}
	b.Close()
}
