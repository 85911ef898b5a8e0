package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/publish/index"
	"pkgstore/internal/registry"
	"pkgstore/internal/registry/catalog"
	"pkgstore/internal/storage"
)

// TestKeyringReplicaIgnoresSnapshot: a replica that checks signed index
// statements never serves from a catalog snapshot, which no statement
// covers: a tampered snapshot beside a validly signed index is not
// served (while a replica without a keyring, which trusts the bucket,
// does serve it: the attack is real).
func TestKeyringReplicaIgnoresSnapshot(t *testing.T) {
	ctx := context.Background()
	s := newTrustStore(t, nil)
	s.ix.Snapshot = catalog.WriteSnapshot
	cursor := s.publish(t, "alpha")
	if ok, _ := s.b.Internal.Exists(ctx, storage.IndexSnapshotKey(cursor)); !ok {
		t.Fatal("the indexer wrote no snapshot")
	}
	// The tampered snapshot: another catalog, bound to the signed index.
	attrs, err := s.b.Internal.Attributes(ctx, storage.IndexAllKey(cursor))
	if err != nil {
		t.Fatal(err)
	}
	evil := packageid.ID{Name: "evil", Version: "6.6.6"}
	doc, _ := json.Marshal(map[string]any{"name": evil.Name, "version": evil.Version, "description": "x", "type": "integration", "download": "x", "path": "y"})
	r, err := catalog.NewRevision(index.Entry{ID: evil, Manifest: doc})
	if err != nil {
		t.Fatal(err)
	}
	bld := catalog.NewBuilder(cursor, 1)
	bld.Add(r)
	fake, err := bld.Finish()
	if err != nil {
		t.Fatal(err)
	}
	var snap bytes.Buffer
	if err := catalog.EncodeSnapshot(&snap, fake, catalog.IndexIdentity{Size: attrs.Size}); err != nil {
		t.Fatal(err)
	}
	if err := s.b.Internal.WriteAll(ctx, storage.IndexSnapshotKey(cursor), snap.Bytes(), nil); err != nil {
		t.Fatal(err)
	}

	s.reload(t)
	s.served(t, cursor, 1)
	if _, ok := s.replica.Catalog().Lookup(evil); ok {
		t.Fatal("the keyring replica serves the tampered snapshot")
	}
	if _, h := s.health(t); h.Index.Source != catalog.SourceVerified {
		t.Fatalf("the keyring replica reports loading a snapshot: %+v", h.Index)
	}

	plain, err := registry.New(registry.Config{Buckets: s.b})
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := plain.Catalog().Lookup(evil); !ok {
		t.Fatal("a replica without a keyring did not load the snapshot: this test shows nothing")
	}
}
