package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/publish/indexsig"
	"pkgstore/internal/server"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/ziptest"
)

// TestTrustRoutes: a store with --index-signing-key serves its statement
// and snapshot, signed, and a read-only replica with --index-keyring loads
// its index and serves the statement it checked.
func TestTrustRoutes(t *testing.T) {
	indexKey := sigtest.NewKey(t, "index")
	s := servertest.Start(t, servertest.Options{Configure: func(c *server.Config) {
		c.Trust = server.TrustConfig{SigningKey: indexKey.PrivatePath, Keyrings: []string{indexKey.PublicPath}}
	}})
	zip := ziptest.Package(t, "trusted", "1.0.0")
	if sub := s.Publish(t, "trusted-1.0.0.zip", zip, client.Options{Legacy: true}); sub.Status != api.StatusPublished {
		t.Fatalf("publish: %+v", sub)
	}
	s.WaitVisible(t, "trusted", "1.0.0")
	get := func(s *servertest.Store, path string) []byte {
		t.Helper()
		code, body := s.Get(t, path)
		if code != 200 {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		return body
	}
	check := func(s *servertest.Store) *api.IndexStatement {
		t.Helper()
		body, sig := get(s, "/api/v1/trust/index"), get(s, "/api/v1/trust/index.sig")
		if _, err := indexsig.Verify(indexKey.Keyring, api.SignedDocument{Body: body, Signature: string(sig)}); err != nil {
			t.Fatal(err)
		}
		st, err := indexsig.ParseStatement(body)
		if err != nil {
			t.Fatal(err)
		}
		snap, ssig := get(s, "/api/v1/trust/snapshot"), get(s, "/api/v1/trust/snapshot.sig")
		if _, err := indexsig.Verify(indexKey.Keyring, api.SignedDocument{Body: snap, Signature: string(ssig)}); err != nil {
			t.Fatal(err)
		}
		if indexsig.SHA256(snap) != st.SnapshotSHA256 {
			t.Fatal("snapshot served is not the one the statement names")
		}
		sn, err := indexsig.ParseSnapshot(snap)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(zip)
		if len(sn.Revisions) != 1 || sn.Revisions[0].SHA256 != hex.EncodeToString(sum[:]) || sn.Revisions[0].Size != int64(len(zip)) {
			t.Fatalf("snapshot revisions %+v", sn.Revisions)
		}
		if !bytes.Equal(get(s, "/api/v1/trust/index/1.sig")[:10], []byte("-----BEGIN")) {
			t.Fatal("statement 1's signature is not armored")
		}
		return st
	}
	st := check(s)
	replica := servertest.Start(t, servertest.Options{Data: s.Data, Configure: func(c *server.Config) {
		c.ReadOnly = true
		c.Trust = server.TrustConfig{Keyrings: []string{indexKey.PublicPath}}
	}})
	if got := check(replica); got.Version != st.Version {
		t.Fatalf("replica serves statement %d, store %d", got.Version, st.Version)
	}
	if code, _ := replica.Get(t, "/api/v1/trust/index/999"); code != 404 {
		t.Fatalf("missing statement: %d", code)
	}

	// cursor.json rolled back to statement 1's cursor (the empty index):
	// refused, counted in the metric, the replica keeps its index.
	ctx := context.Background()
	in := replica.Server.Buckets.Internal
	doc, err := indexsig.ReadDocument(ctx, in, storage.TrustStatementKey(1), indexsig.MaxStatementSize)
	if err != nil {
		t.Fatal(err)
	}
	first, err := indexsig.ParseStatement(doc.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.WriteAll(ctx, storage.CursorKey, []byte(`{"current":"`+first.Cursor+`"}`), nil); err != nil {
		t.Fatal(err)
	}
	if err := replica.Server.Registry.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(replica.Server.Metrics.IndexRefused.WithLabelValues("rollback")); got != 1 {
		t.Fatalf("pkgstore_index_refused_total{kind=rollback} = %v, want 1", got)
	}
	if h := replica.Server.Registry.HealthNow(); h.Index.Cursor != st.Cursor || h.Trust == nil || !strings.Contains(h.Trust.Refused, "rollback") {
		t.Fatalf("replica after a rolled-back cursor.json: %+v (trust %+v)", h, h.Trust)
	}
}
