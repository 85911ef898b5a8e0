package indexsig

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/publish/index"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/ziptest"
)

type fixture struct {
	b   *storage.Buckets
	ix  *index.Indexer
	is  *Issuer
	key *sigtest.Key
	now time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	b, err := storage.Open(context.Background(), storage.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	f := &fixture{b: b, key: sigtest.NewKey(t, "store"), now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	f.is = &Issuer{Buckets: b, Key: f.key.Signer, Validity: 24 * time.Hour, Now: func() time.Time { return f.now }}
	f.ix = index.NewIndexer(b, nil)
	f.ix.BeforeCommit = f.is.Commit
	return f
}

func (f *fixture) publish(t *testing.T, name, version string) []byte {
	t.Helper()
	zip := ziptest.Package(t, name, version)
	if err := f.b.Public.CreateIfAbsent(context.Background(), storage.ZipKey(packageid.ID{Name: name, Version: version}), bytes.NewReader(zip), nil); err != nil {
		t.Fatal(err)
	}
	return zip
}

func (f *fixture) index(t *testing.T) index.Result {
	t.Helper()
	res, err := f.ix.Index(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (f *fixture) latest(t *testing.T) *api.IndexStatement {
	t.Helper()
	st, _, err := Latest(context.Background(), f.b.Internal)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestStatementPerCursor(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.index(t) // empty store: version 1
	zipA := f.publish(t, "alpha", "1.0.0")
	res := f.index(t)
	st := f.latest(t)
	if st.Version != 2 || st.Cursor != res.Cursor || st.Revisions != 1 || st.Previous == "" {
		t.Fatalf("statement after the second pass: %+v (cursor %s)", st, res.Cursor)
	}
	if !st.Expires.Equal(f.now.Add(24 * time.Hour)) {
		t.Fatalf("expires %s, want issued + validity", st.Expires)
	}
	if err := CheckFiles(ctx, f.b.Internal, st); err != nil {
		t.Fatalf("files of the current cursor: %v", err)
	}
	// The cursor's own copy is the same statement, signed.
	doc, err := ReadDocument(ctx, f.b.Internal, storage.TrustCursorKey(res.Cursor), MaxStatementSize)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(f.key.Keyring, doc); err != nil {
		t.Fatal(err)
	}
	// The snapshot lists the zip with its real hash and size.
	sdoc, err := ReadDocument(ctx, f.b.Internal, storage.TrustSnapshotKey(st.SnapshotSHA256), MaxSnapshotSize)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(f.key.Keyring, sdoc); err != nil {
		t.Fatal(err)
	}
	sn, err := ParseSnapshot(sdoc.Body)
	if err != nil {
		t.Fatal(err)
	}
	want := []api.SnapshotRevision{{Name: "alpha", Version: "1.0.0", SHA256: SHA256(zipA), Size: int64(len(zipA))}}
	if sn.Version != 2 || sn.Cursor != res.Cursor || len(sn.Revisions) != 1 || sn.Revisions[0] != want[0] {
		t.Fatalf("snapshot %+v, want version 2, cursor %s, %+v", sn, res.Cursor, want)
	}
	rep, err := WalkChain(ctx, BucketSource{f.b.Internal}, f.key.Keyring, f.now, func(ctx context.Context, st *api.IndexStatement) error {
		return CheckFiles(ctx, f.b.Internal, st)
	})
	if err != nil || rep.Break != nil || rep.Checked != 2 {
		t.Fatalf("chain: %+v %v", rep, err)
	}
}

func TestReissueBeforeExpiry(t *testing.T) {
	f := newFixture(t)
	f.publish(t, "alpha", "1.0.0")
	f.index(t)
	v1 := f.latest(t)
	f.now = f.now.Add(11 * time.Hour) // less than half the validity gone
	f.index(t)
	if got := f.latest(t); got.Version != v1.Version {
		t.Fatalf("an idle pass with more than half the validity left re-issued: %d -> %d", v1.Version, got.Version)
	}
	f.now = f.now.Add(2 * time.Hour) // past half
	f.index(t)
	got := f.latest(t)
	if got.Version != v1.Version+1 || got.Cursor != v1.Cursor || !got.Expires.Equal(f.now.Add(24*time.Hour)) {
		t.Fatalf("re-issued statement %+v, want version %d for cursor %s expiring a validity from now", got, v1.Version+1, v1.Cursor)
	}
}

func TestConcurrentIssuersNeverShareAVersion(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.publish(t, "alpha", "1.0.0")
	res := f.index(t)
	revs := map[packageid.ID]bool{{Name: "alpha", Version: "1.0.0"}: true}
	const n = 6
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each its own issuer, as in separate processes; Prev differs
			// from Next so every one must issue.
			is := &Issuer{Buckets: f.b, Key: f.key.Signer, Validity: time.Hour}
			errs <- is.Commit(ctx, index.Commit{Prev: "x", Next: res.Cursor, Revisions: revs})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	st := f.latest(t)
	if st.Version != 1+n {
		t.Fatalf("newest version %d after %d concurrent issues on top of 1", st.Version, n)
	}
	rep, err := WalkChain(ctx, BucketSource{f.b.Internal}, f.key.Keyring, time.Now(), nil)
	if err != nil || rep.Break != nil || rep.Checked != 1+n {
		t.Fatalf("chain after concurrent issues: %+v %v", rep, err)
	}
}

func TestWalkChainFindsFirstBreak(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		tamper  func(t *testing.T, f *fixture)
		version uint64
		want    error
	}{
		{"statement signed by an unknown key", func(t *testing.T, f *fixture) {
			f.rewrite(t, 2, sigtest.NewKey(t, "intruder"), func(*api.IndexStatement) {})
		}, 2, ErrSignature},
		{"statement rewritten and re-signed: the next one no longer links", func(t *testing.T, f *fixture) {
			f.rewrite(t, 2, f.key, func(st *api.IndexStatement) { st.Revisions = 99 })
		}, 3, ErrChain},
		{"statement deleted", func(t *testing.T, f *fixture) {
			if err := f.b.Internal.Delete(ctx, storage.TrustStatementKey(2)); err != nil {
				t.Fatal(err)
			}
		}, 2, ErrChain},
		{"newest expired", func(t *testing.T, f *fixture) { f.now = f.now.Add(25 * time.Hour) }, 3, ErrExpired},
		{"index file tampered", func(t *testing.T, f *fixture) {
			st := f.latest(t)
			if err := f.b.Internal.WriteAll(ctx, storage.IndexAllKey(st.Cursor), []byte(`{"packages":[]}`), nil); err != nil {
				t.Fatal(err)
			}
		}, 3, ErrMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.index(t)
			f.publish(t, "alpha", "1.0.0")
			f.index(t)
			f.publish(t, "beta", "1.0.0")
			f.index(t)
			tc.tamper(t, f)
			rep, err := WalkChain(ctx, BucketSource{f.b.Internal}, f.key.Keyring, f.now, func(ctx context.Context, st *api.IndexStatement) error {
				return CheckFiles(ctx, f.b.Internal, st)
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Break == nil || rep.Break.Version != tc.version || !errors.Is(rep.Break.Err, tc.want) {
				t.Fatalf("break %+v, want at version %d: %v", rep.Break, tc.version, tc.want)
			}
		})
	}
}

// rewrite replaces statement v with an edited copy signed by key.
func (f *fixture) rewrite(t *testing.T, v uint64, key *sigtest.Key, edit func(*api.IndexStatement)) {
	t.Helper()
	ctx := context.Background()
	doc, err := ReadDocument(ctx, f.b.Internal, storage.TrustStatementKey(v), MaxStatementSize)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ParseStatement(doc.Body)
	if err != nil {
		t.Fatal(err)
	}
	edit(st)
	body, _ := json.Marshal(st)
	nd, err := Sign(key.Signer, body)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(nd)
	if err := f.b.Internal.WriteAll(ctx, storage.TrustStatementKey(v), raw, nil); err != nil {
		t.Fatal(err)
	}
}
