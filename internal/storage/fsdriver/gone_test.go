package fsdriver_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pkgstore/internal/storage/driver"
	"pkgstore/internal/storage/fsdriver"
)

// TestFolderRemovedWhileOpen: a bucket whose folder is removed under it
// fails its listings and writes with ErrFolderGone, and no write (plain,
// create-if-absent, staged, tree) makes the folder again; reads answer
// "not found" as before.
func TestFolderRemovedWhileOpen(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "public")
	b, err := fsdriver.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.WriteAll(ctx, "a/b.txt", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	for _, op := range []struct {
		name string
		do   func() error
	}{
		{"list", func() error { _, err := b.List(ctx, &driver.ListOptions{Prefix: "probe/", Delimiter: "/"}); return err }},
		{"list all", func() error { _, err := b.List(ctx, nil); return err }},
		{"write", func() error { return b.WriteAll(ctx, "a/c.txt", []byte("x"), nil) }},
		{"create", func() error { return b.Create(ctx, "claims/x", strings.NewReader("x"), nil, true) }},
		{"stage", func() error {
			s, err := b.Stage(ctx, "a/d.txt", strings.NewReader("x"), nil)
			if err == nil {
				s.Discard()
			}
			return err
		}},
		{"tree", func() error { _, err := b.NewTree(ctx, "static/p-1.0.0/"); return err }},
	} {
		if err := op.do(); !errors.Is(err, fsdriver.ErrFolderGone) {
			t.Errorf("%s: %v, want ErrFolderGone", op.name, err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("%s made the folder again", op.name)
		}
	}
}
