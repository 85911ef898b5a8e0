package eprdiff_test

import (
	"context"
	"testing"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/publish/indexsig"
	"pkgstore/internal/server"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/eprdiff"
	"pkgstore/internal/testkit/sigtest"
)

// TestStoragePathWithStatements: with signed index statements and
// snapshots in the internal bucket (serve --index-signing-key, and our
// store checking them with --index-keyring), the reference's three
// storage indexers read our buckets exactly as without them (issue 24,
// item 6): the statements live under pkgstore/, which EPR never reads.
func TestStoragePathWithStatements(t *testing.T) {
	c := eprPackages(t)
	pkgs := c.Packages
	key := sigtest.NewKey(t, "index")
	s := eprdiff.StartStorage(t, c, eprdiff.Options{Legacy: true, Configure: func(cfg *server.Config) {
		cfg.Trust = server.TrustConfig{SigningKey: key.PrivatePath, Keyrings: []string{key.PublicPath}}
	}}, pkgs[:15], eprdiff.StorageModes)
	s.Publish(t, pkgs[15:])
	// The statements are there, chained and matching the current files.
	in := s.Ours.Ours.Server.Buckets.Internal
	rep, err := indexsig.WalkChain(context.Background(), indexsig.BucketSource{B: in}, key.Keyring, time.Now(), func(ctx context.Context, st *api.IndexStatement) error {
		return indexsig.CheckFiles(ctx, in, st)
	})
	if err != nil || rep.Break != nil || rep.Checked < 2 {
		t.Fatalf("statements in the bucket: %+v %v", rep, err)
	}
	if ok, err := in.Exists(context.Background(), storage.TrustCursorKey(rep.Cursor)); err != nil || !ok {
		t.Fatalf("no statement for the current cursor %s: %v", rep.Cursor, err)
	}
	for i, p := range s.Pairs {
		m := eprdiff.StorageModes[i]
		t.Run(m.Name, func(t *testing.T) {
			revs := p.Revisions()
			rep := p.Compare(t, eprdiff.GetOrHead(eprdiff.All(revs)))
			t.Log(rep)
			rep.Expect(t, eprdiff.LoadKnown(t, "testdata/known-storage.txt", "testdata/known-storage-"+m.Name+".txt"))
		})
	}
}
