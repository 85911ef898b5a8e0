package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/publish/index"
	"pkgstore/internal/publish/indexsig"
	"pkgstore/internal/registry"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/storagetest"
	"pkgstore/internal/testkit/ziptest"
)

// trustStore is a store whose indexer signs its statements, and a replica
// checking them.
type trustStore struct {
	b       *storage.Buckets
	ix      *index.Indexer
	is      *indexsig.Issuer
	key     *sigtest.Key
	replica *registry.Registry
	mu      sync.Mutex
	refused []string
}

func newTrustStore(t *testing.T, keyring *sigtest.Key) *trustStore {
	t.Helper()
	s := &trustStore{b: storagetest.OpenData(t, t.TempDir()), key: sigtest.NewKey(t, "store")}
	s.is = &indexsig.Issuer{Buckets: s.b, Key: s.key.Signer, Validity: time.Hour}
	s.ix = index.NewIndexer(s.b, nil)
	s.ix.BeforeCommit = s.is.Commit
	if keyring == nil {
		keyring = s.key
	}
	var err error
	s.replica, err = registry.New(registry.Config{Buckets: s.b, IndexKeyring: keyring.Keyring, OnIndexRefused: func(kind string) {
		s.mu.Lock()
		s.refused = append(s.refused, kind)
		s.mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *trustStore) publish(t *testing.T, name string) string {
	t.Helper()
	id := packageid.ID{Name: name, Version: "1.0.0"}
	if err := s.b.Public.CreateIfAbsent(context.Background(), storage.ZipKey(id), bytes.NewReader(ziptest.Package(t, id.Name, id.Version)), nil); err != nil {
		t.Fatal(err)
	}
	res, err := s.ix.Index(context.Background())
	if err != nil || !res.Moved {
		t.Fatalf("index: %+v %v", res, err)
	}
	return res.Cursor
}

func (s *trustStore) reload(t *testing.T) {
	t.Helper()
	if err := s.replica.Reload(context.Background()); err != nil {
		t.Fatalf("reload: %v", err)
	}
}

func (s *trustStore) refusals() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.refused...)
}

func (s *trustStore) health(t *testing.T) (int, registry.Health) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.replica.ServeHTTP(rec, httptest.NewRequest("GET", "/health?verbose=true", nil))
	var h registry.Health
	if err := json.Unmarshal(rec.Body.Bytes(), &h); err != nil {
		t.Fatalf("health body %q: %v", rec.Body, err)
	}
	return rec.Code, h
}

// served checks the replica serves exactly cursor.
func (s *trustStore) served(t *testing.T, cursor string, revisions int) {
	t.Helper()
	c := s.replica.Catalog()
	if c.Cursor() != cursor || c.Len() != revisions {
		t.Fatalf("replica serves cursor %s with %d revisions, want %s with %d", c.Cursor(), c.Len(), cursor, revisions)
	}
}

func TestReplicaRefusesBadIndexes(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// attack moves the store to a cursor the replica must refuse,
		// given the cursors of the two good passes.
		attack func(t *testing.T, s *trustStore, first, second string)
		kind   string
	}{
		{"older cursor.json (rollback)", func(t *testing.T, s *trustStore, first, _ string) {
			writeCursor(t, s.b, first)
		}, "rollback"},
		{"tampered search-index-all.json (mix-and-match)", func(t *testing.T, s *trustStore, _, _ string) {
			third := s.publish(t, "gamma")
			// Swap in the previous cursor's index: valid, but not the
			// one the statement vouches for.
			raw, err := s.b.Internal.ReadAll(ctx, storage.IndexAllKey(s.replica.Catalog().Cursor()))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.b.Internal.WriteAll(ctx, storage.IndexAllKey(third), raw, nil); err != nil {
				t.Fatal(err)
			}
		}, "mismatch"},
		{"statement signed by an unknown key", func(t *testing.T, s *trustStore, _, _ string) {
			s.is.Key = sigtest.NewKey(t, "intruder").Signer
			s.publish(t, "gamma")
		}, "signature"},
		{"no statement", func(t *testing.T, s *trustStore, _, _ string) {
			s.ix.BeforeCommit = nil
			s.publish(t, "gamma")
		}, "missing"},
		{"statement of another cursor copied in", func(t *testing.T, s *trustStore, _, second string) {
			s.ix.BeforeCommit = nil
			third := s.publish(t, "gamma")
			raw, err := s.b.Internal.ReadAll(ctx, storage.TrustCursorKey(second))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.b.Internal.WriteAll(ctx, storage.TrustCursorKey(third), raw, nil); err != nil {
				t.Fatal(err)
			}
		}, "mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTrustStore(t, nil)
			first := s.publish(t, "alpha")
			s.reload(t)
			s.served(t, first, 1)
			second := s.publish(t, "beta")
			s.reload(t)
			s.served(t, second, 2)

			tc.attack(t, s, first, second)
			s.reload(t)
			s.reload(t) // counted and logged once, not per reload
			s.served(t, second, 2)
			if got := s.refusals(); len(got) != 1 || got[0] != tc.kind {
				t.Fatalf("refusals %v, want one %q", got, tc.kind)
			}
			code, h := s.health(t)
			if code != http.StatusOK || h.Trust == nil || !strings.Contains(h.Trust.Refused, "refused") {
				t.Fatalf("health %d %+v (trust %+v): want 200 saying the cursor was refused", code, h, h.Trust)
			}
			// A good pass afterwards is served again.
			s.ix.BeforeCommit = s.is.Commit
			s.is.Key = s.key.Signer
			fourth := s.publish(t, "delta")
			s.reload(t)
			if s.replica.Catalog().Cursor() != fourth {
				t.Fatalf("after a good pass the replica serves %s, want %s", s.replica.Catalog().Cursor(), fourth)
			}
			if _, h := s.health(t); h.Trust.Refused != "" {
				t.Fatalf("refusal still reported after a good index: %q", h.Trust.Refused)
			}
		})
	}
}

func writeCursor(t *testing.T, b *storage.Buckets, cursor string) {
	t.Helper()
	if err := b.Internal.WriteAll(context.Background(), storage.CursorKey, []byte(`{"current":"`+cursor+`"}`), nil); err != nil {
		t.Fatal(err)
	}
}

func TestReplicaExpiredStatementServesButUnhealthy(t *testing.T) {
	s := newTrustStore(t, nil)
	s.is.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) } // validity 1h: expired
	cursor := s.publish(t, "alpha")
	s.reload(t)
	s.served(t, cursor, 1)
	code, h := s.health(t)
	if code != http.StatusServiceUnavailable || h.Status != "expired" || !strings.Contains(h.Reason, "expired") || h.Trust == nil || !h.Trust.Expired {
		t.Fatalf("health %d %+v, want 503 expired", code, h)
	}
	rec := httptest.NewRecorder()
	s.replica.ServeHTTP(rec, httptest.NewRequest("GET", "/search", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"alpha"`) {
		t.Fatalf("search while expired: %d %s", rec.Code, rec.Body)
	}
	// Re-signed (an idle pass once half the validity is gone): healthy.
	s.is.Now = time.Now
	if _, err := s.ix.Index(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.reload(t)
	if code, h := s.health(t); code != http.StatusOK || h.Trust.Expired {
		t.Fatalf("health after re-signing: %d %+v", code, h)
	}
}

func TestReplicaWithoutStatementNeverReady(t *testing.T) {
	s := newTrustStore(t, sigtest.NewKey(t, "other"))
	s.publish(t, "alpha")
	if err := s.replica.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), "not signed by a trusted key") {
		t.Fatalf("first reload with an untrusted statement: %v", err)
	}
	if s.replica.Ready() || s.replica.Catalog().Len() != 0 {
		t.Fatal("a replica whose first index was refused serves it")
	}
}
