package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/server"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/fleettest"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/ziptest"
)

// TestStoreKeyFleetVerifiesEveryOwner (issue 24, item 1): two owners with
// different keys publish; the store signs each zip with its own key, and
// Kibana Fleet's own verification (openpgp.js, one key: the store's)
// passes for both, fetched from the running store over HTTP. The owners'
// signatures and fingerprints stay in the provenance, shown by
// /api/v1/packages/N/V.
func TestStoreKeyFleetVerifiesEveryOwner(t *testing.T) {
	owners := map[string]*sigtest.Key{"alpha": sigtest.NewKey(t, "alpha-team"), "beta": sigtest.NewKey(t, "beta-team")}
	store := sigtest.NewKey(t, "store")
	s := servertest.Start(t, servertest.Options{Key: owners["alpha"], Configure: func(c *server.Config) {
		c.Keyrings = []string{owners["alpha"].PublicPath, owners["beta"].PublicPath}
		c.StoreKey = store.Signer
		c.TokensFile = writeTokens(t)
	}})
	auditor := newClient(t, s, secretAudit)
	ctx := context.Background()
	var urls []string
	for name, owner := range owners {
		zip := ziptest.Package(t, name, "1.0.0")
		ownerSig := owner.Sign(t, zip)
		sub, err := s.Client.Publish(ctx, name+"-1.0.0.zip", bytes.NewReader(zip), ownerSig, client.Options{Legacy: true})
		if err != nil || sub.Status != api.StatusPublished {
			t.Fatalf("publish %s: %+v %v", name, sub, err)
		}
		s.WaitVisible(t, name, "1.0.0")
		_, served := s.Get(t, "/epr/"+name+"/"+name+"-1.0.0.zip.sig")
		signer, err := store.Keyring.Verify(bytes.NewReader(zip), bytes.NewReader(served))
		if err != nil {
			t.Fatalf("%s: the served signature is not the store's: %v", name, err)
		}
		if _, err := owner.Keyring.Verify(bytes.NewReader(zip), bytes.NewReader(served)); err == nil {
			t.Fatalf("%s: the owner's key verifies the served signature: the store did not sign", name)
		}
		id := packageid.ID{Name: name, Version: "1.0.0"}
		info, err := auditor.Revision(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		rev := info.Revision
		sum := sha256.Sum256(zip)
		switch {
		case rev == nil:
			t.Fatalf("%s: no provenance", name)
		case rev.SHA256 != hex.EncodeToString(sum[:]):
			t.Errorf("%s: sha256 %s", name, rev.SHA256)
		case rev.Signer == nil || rev.Signer.Fingerprint != owner.Fingerprint:
			t.Errorf("%s: owner's signer %+v, want %s", name, rev.Signer, owner.Fingerprint)
		case rev.StoreSigner == nil || rev.StoreSigner.Fingerprint != store.Fingerprint || rev.StoreSigner.KeyID != signer.KeyID:
			t.Errorf("%s: store signer %+v, want %s/%s", name, rev.StoreSigner, store.Fingerprint, signer.KeyID)
		}
		if rev != nil {
			if _, err := owner.Keyring.Verify(bytes.NewReader(zip), bytes.NewReader([]byte(rev.OwnerSignature))); err != nil {
				t.Errorf("%s: the owner's signature kept in the provenance does not verify: %v", name, err)
			}
			if rev.OwnerSignature != string(ownerSig) {
				t.Errorf("%s: owner's signature changed:\n%s\nwant\n%s", name, rev.OwnerSignature, ownerSig)
			}
		}
		urls = append(urls, s.URL+"/epr/"+name+"/"+name+"-1.0.0.zip")
	}
	fleettest.AllVerified(t, "store key", store.PublicPath, urls...)
	// Fleet with one owner's key verifies neither package any more: what
	// Kibana trusts is the store.
	for _, r := range fleettest.Verify(t, owners["alpha"].PublicPath, urls...).Results {
		if r.Verified {
			t.Errorf("Fleet with the alpha owner's key verified %s", r.URL)
		}
	}
}

// TestStoreKeyUnsignedStaysUnsigned: with signatures optional, an unsigned
// candidate is published without a signature: the store vouches only for
// what an owner signed.
func TestStoreKeyUnsignedStaysUnsigned(t *testing.T) {
	store := sigtest.NewKey(t, "store")
	s := servertest.Start(t, servertest.Options{Memory: true, Configure: func(c *server.Config) {
		c.StoreKey = store.Signer
		c.RequireSignatures = false
	}})
	zip := ziptest.Package(t, "nosig", "1.0.0")
	sub, err := s.Client.Publish(context.Background(), "nosig-1.0.0.zip", bytes.NewReader(zip), nil, client.Options{Legacy: true})
	if err != nil || sub.Status != api.StatusPublished {
		t.Fatalf("publish: %+v %v", sub, err)
	}
	ok, err := s.Server.Buckets.Public.Exists(context.Background(), storage.SignatureKey(packageid.ID{Name: "nosig", Version: "1.0.0"}))
	if err != nil || ok {
		t.Fatalf("an unsigned candidate got a signature: %v %v", ok, err)
	}
}

// TestStoreKeyCrashBeforeZip: a store that signs with its own key and
// dies at each write step of a publication leaves nothing half-visible;
// restarted, it finishes the publication with its signature served and
// the owner's in the provenance.
func TestStoreKeyCrashBeforeZip(t *testing.T) {
	owner := sigtest.NewKey(t, "owner")
	store := sigtest.NewKey(t, "store")
	for _, step := range []string{"statics", "signature", "document", "audit", "zip"} {
		t.Run(step, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			t.Setenv("PKGSTORE_TEST_STORE_KEY", store.PrivatePath)
			c := startChild(t, data, owner.PublicPath, step)
			zip := ziptest.Package(t, "crash", "1.0.0")
			ownerSig := owner.Sign(t, zip)
			_, _ = c.Client.Publish(context.Background(), "crash-1.0.0.zip", bytes.NewReader(zip), ownerSig, client.Options{Legacy: true})
			if code := c.exitCode(t); code != crashExit {
				t.Fatalf("child exited %d, want the injected crash %d", code, crashExit)
			}
			assertNoHalfPackage(t, data)
			assertStoreSigned(t, data, zip, store, owner)

			s := servertest.Start(t, servertest.Options{Data: data, Key: owner, Configure: func(c *server.Config) { c.StoreKey = store.Signer }})
			s.WaitVisible(t, "crash", "1.0.0")
			assertNoHalfPackage(t, data)
			_, sig := s.Get(t, "/epr/crash/crash-1.0.0.zip.sig")
			if _, err := store.Keyring.Verify(bytes.NewReader(zip), bytes.NewReader(sig)); err != nil {
				t.Fatalf("served signature after recovery is not the store's: %v", err)
			}
			assertStoreSigned(t, data, zip, store, owner)
		})
	}
}

// assertStoreSigned checks, when the zip is published, that its served
// signature is the store's and its provenance keeps the owner's.
func assertStoreSigned(t *testing.T, data string, zip []byte, store, owner *sigtest.Key) {
	t.Helper()
	pub := filepath.Join(data, "public", "artifacts/packages/crash-1.0.0.zip")
	if _, err := os.Stat(pub); err != nil {
		return
	}
	sig, err := os.ReadFile(pub + ".sig")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Keyring.Verify(bytes.NewReader(zip), bytes.NewReader(sig)); err != nil {
		t.Fatalf("published zip's signature is not the store's: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(data, "internal", storage.RevisionKey(packageid.ID{Name: "crash", Version: "1.0.0"})))
	if err != nil {
		t.Fatal(err)
	}
	var rev api.Revision
	if err := json.Unmarshal(raw, &rev); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Keyring.Verify(bytes.NewReader(zip), strings.NewReader(rev.OwnerSignature)); err != nil || rev.Signer == nil || rev.Signer.Fingerprint != owner.Fingerprint || rev.StoreSigner == nil || rev.StoreSigner.Fingerprint != store.Fingerprint {
		t.Fatalf("provenance %+v: owner signature %v", rev, err)
	}
}

// BenchmarkPublishStoreKey is BenchmarkPublishToVisible with and without
// a store key: the cost of the store's signature (one signing and one
// verifying pass over the zip) on a publication.
//
//	go test -run '^$' -bench PublishStoreKey -benchtime 200x ./internal/server/
func BenchmarkPublishStoreKey(b *testing.B) {
	for _, withKey := range []bool{false, true} {
		name := "owner-signature"
		if withKey {
			name = "store-key"
		}
		b.Run(name, func(b *testing.B) {
			store := sigtest.NewKey(b, "store")
			s := servertest.Start(b, servertest.Options{Configure: func(c *server.Config) {
				if withKey {
					c.StoreKey = store.Signer
				}
			}})
			zips := prepare(b, s, name, b.N)
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				z := zips[i]
				sub, err := s.Client.Publish(ctx, z.file, bytes.NewReader(z.zip), z.sig, client.Options{Legacy: true})
				if err != nil || sub.Status != api.StatusPublished {
					b.Fatalf("publish: %v %+v", err, sub)
				}
				s.WaitVisible(b, "bench", z.version)
			}
		})
	}
}
