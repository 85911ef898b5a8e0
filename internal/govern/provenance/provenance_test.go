package provenance

import (
	"context"
	"path/filepath"
	"pkgstore/internal/testkit/storagetest"
	"testing"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/storage"
)

func TestWriteReadDelete(t *testing.T) {
	ctx := context.Background()
	b := storagetest.OpenData(t, filepath.Join(t.TempDir(), "data"))
	id := packageid.ID{Name: "aws", Version: "2.3.1"}
	if _, err := Read(ctx, b.Internal, id); !storage.IsNotFound(err) {
		t.Fatalf("read before any write: %v, want not found", err)
	}
	rev := api.Revision{Name: id.Name, Version: id.Version, Size: 3, SHA256: "abc", Signer: &api.Signer{KeyID: "k", Fingerprint: "f"}, Submission: "s1", Token: "ci", Legacy: true, Published: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	if err := Write(ctx, b.Internal, rev); err != nil {
		t.Fatal(err)
	}
	data, err := b.Internal.ReadAll(ctx, storage.RevisionKey(id))
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "name": "aws",
  "version": "2.3.1",
  "size": 3,
  "sha256": "abc",
  "signer": {
    "key_id": "k",
    "fingerprint": "f"
  },
  "submission": "s1",
  "token": "ci",
  "legacy": true,
  "published": "2026-12-01T10:00:00Z"
}`
	if string(data) != want {
		t.Errorf("stored record\n%s\nwant\n%s", data, want)
	}
	got, err := Read(ctx, b.Internal, id)
	if err != nil || *got.Signer != *rev.Signer || got.SHA256 != rev.SHA256 || !got.Published.Equal(rev.Published) {
		t.Fatalf("read %+v, %v", got, err)
	}
	Delete(ctx, b.Internal, id, "another submission")
	if _, err := Read(ctx, b.Internal, id); err != nil {
		t.Fatalf("another submission's cleanup removed the record: %v", err)
	}
	Delete(ctx, b.Internal, id, "s1")
	if _, err := Read(ctx, b.Internal, id); !storage.IsNotFound(err) {
		t.Fatalf("read after delete: %v, want not found", err)
	}
}
