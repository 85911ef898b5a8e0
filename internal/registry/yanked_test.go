package registry_test

import (
	"context"
	"path/filepath"
	"pkgstore/internal/testkit/storagetest"
	"testing"

	"pkgstore/internal/govern/yank"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/registry"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/ziptest"
)

// TestYanked: the registry's view of the yanked revisions serves those
// whose package document it can read, and drops them once unyanked.
func TestYanked(t *testing.T) {
	ctx := context.Background()
	b := storagetest.OpenData(t, filepath.Join(t.TempDir(), "data"))
	id := packageid.ID{Name: "aws", Version: "2.3.1"}
	if err := b.Public.WriteAll(ctx, storage.ZipKey(id), ziptest.Package(t, "aws", "2.3.1"), nil); err != nil {
		t.Fatal(err)
	}
	ys := yank.New(b, nil)
	if _, _, err := ys.Set(ctx, yank.Change{ID: id, Yank: true, Reason: "broken"}); err != nil {
		t.Fatal(err)
	}

	// The registry's view needs the stored document.
	served := registry.NewYanked(b.Internal, ys.Hidden)
	if err := served.Reload(ctx); err != nil {
		t.Fatalf("one revision without its document failed the reload: %v", err)
	}
	if _, _, ok := served.Lookup(id); ok {
		t.Fatal("served a yanked revision without its package document")
	}
	doc := []byte(`{"name":"aws","version":"2.3.1","title":"AWS","type":"integration","format_version":"3.0.0","description":"x","owner":{"github":"elastic/integrations","type":"elastic"},"categories":["custom"],"conditions":{"kibana":{"version":"^8.0.0"}}}`)
	if err := b.Internal.WriteAll(ctx, storage.DocumentKey(id), doc, nil); err != nil {
		t.Fatal(err)
	}
	if err := served.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	cat, rev, ok := served.Lookup(id)
	if !ok || rev.ID != id {
		t.Fatal("yanked revision not served")
	}
	if _, err := cat.Document(rev); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := served.Lookup(packageid.ID{Name: "aws", Version: "2.3.0"}); ok {
		t.Fatal("a revision never yanked is served as yanked")
	}
	if _, _, err := ys.Set(ctx, yank.Change{ID: id, Yank: false}); err != nil {
		t.Fatal(err)
	}
	if err := served.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := served.Lookup(id); ok {
		t.Fatal("an unyanked revision is still served as yanked")
	}
}
