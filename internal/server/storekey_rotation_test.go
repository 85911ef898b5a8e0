package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/govern/audit"
	"pkgstore/internal/govern/resign"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/server"
	"pkgstore/internal/testkit/fleettest"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/ziptest"
)

// TestStoreKeyRotationNoGap (issue 24, item 1) walks the rotation of
// docs/operators-governance.md with Kibana Fleet's own verification
// (openpgp.js, one key) and checks that at every moment the signature
// served verifies with every key file a Kibana may have then:
//
//  1. the store signs with subkey S1; Kibana has K1 = primary+S1;
//  2. a signing subkey S2 is added; K2 = primary+S1+S2 rolls out to the
//     Kibanas (K1 and K2 both verify everything served);
//  3. once every Kibana has K2, serve signs with the new key (S2) and
//     `resign` re-signs everything, interrupted and resumed: after each
//     revision, K2 verifies everything served;
//  4. K3 = primary+S2 (S1 retired) rolls out: K2 and K3 verify everything.
func TestStoreKeyRotationNoGap(t *testing.T) {
	alpha, beta := sigtest.NewKey(t, "alpha-team"), sigtest.NewKey(t, "beta-team")
	sk := sigtest.NewStoreKey(t)
	s1 := sk.SigningSubkeyIDs()[0]
	k1 := sk.Public(t, "k1")
	data := filepath.Join(t.TempDir(), "data")
	start := func(key string) *servertest.Store {
		signer, err := loadKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return servertest.Start(t, servertest.Options{Data: data, Key: alpha, Configure: func(c *server.Config) {
			c.Keyrings = []string{alpha.PublicPath, beta.PublicPath}
			c.StoreKey = signer
		}})
	}
	ctx := context.Background()
	publish := func(s *servertest.Store, owner *sigtest.Key, name string) string {
		zip := ziptest.Package(t, name, "1.0.0")
		sub, err := s.Client.Publish(ctx, name+"-1.0.0.zip", bytes.NewReader(zip), owner.Sign(t, zip), client.Options{Legacy: true})
		if err != nil || sub.Status != api.StatusPublished {
			t.Fatalf("publish %s: %+v %v", name, sub, err)
		}
		s.WaitVisible(t, name, "1.0.0")
		return "/epr/" + name + "/" + name + "-1.0.0.zip"
	}
	urls := func(s *servertest.Store, paths []string) []string {
		var out []string
		for _, p := range paths {
			out = append(out, s.URL+p)
		}
		return out
	}

	// 1. S1 signs; Kibana has K1.
	s := start(sk.Private(t, "v1"))
	paths := []string{publish(s, alpha, "alpha"), publish(s, beta, "beta")}
	fleettest.AllVerified(t, "1: store key S1", k1, urls(s, paths)...)

	// 2. S2 is added; K2 rolls out while S1 still signs.
	sk.AddSigningSubkey(t)
	s2 := sk.SigningSubkeyIDs()[1]
	k2 := sk.Public(t, "k2")
	v2 := sk.Private(t, "v2")
	for _, k := range []string{k1, k2} {
		fleettest.AllVerified(t, "2: K2 rolling out", k, urls(s, paths)...)
	}

	// 3. Every Kibana has K2: serve signs with S2, resign re-signs.
	s.Stop()
	s = start(v2)
	paths = append(paths, publish(s, beta, "gamma"))
	fleettest.AllVerified(t, "3: serve signs with S2", k2, urls(s, paths)...)
	// Why K2 must be everywhere first: K1 cannot verify S2's signature.
	if r := fleettest.Verify(t, k1, s.URL+paths[2]).Results[0]; r.Verified || r.SigningKeyID != s2 {
		t.Fatalf("K1 verified a signature by S2 (%+v): the test proves nothing", r)
	}
	newKey, err := loadKey(v2)
	if err != nil {
		t.Fatal(err)
	}
	cfg := resign.Config{Buckets: s.Server.Buckets, Key: newKey, Audit: audit.New(s.Server.Buckets.Internal), Client: "test"}
	var done []string
	stop := errors.New("interrupted")
	rctx, cancel := context.WithCancelCause(ctx)
	cfg.AfterEach = func(id packageid.ID) {
		done = append(done, id.String())
		fleettest.AllVerified(t, "3: resign after "+id.String(), k2, urls(s, paths)...)
		if len(done) == 1 {
			cancel(stop) // interrupted after the first revision
		}
	}
	if _, err := resign.Run(rctx, cfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	res, err := resign.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed || len(res.Items) != 2 || res.Resigned != 2 || res.Skipped != 1 {
		t.Fatalf("resumed run: %+v", res)
	}
	if len(done) != 3 {
		t.Fatalf("revisions done: %v", done)
	}
	for _, p := range paths {
		r := fleettest.Verify(t, k2, s.URL+p).Results[0]
		if !r.Verified || r.SigningKeyID != s2 {
			t.Errorf("%s after resign: %+v, want verified, signed by S2 %s", p, r, s2)
		}
	}
	// Again: everything is skipped, nothing is written.
	res, err = resign.Run(ctx, resign.Config{Buckets: s.Server.Buckets, Key: newKey})
	if err != nil || res.Resumed || res.Skipped != 3 || res.Resigned != 0 {
		t.Fatalf("second run: %+v %v", res, err)
	}
	recs, err := audit.New(s.Server.Buckets.Internal).All(ctx, audit.Query{Event: audit.Resigned})
	if err != nil || len(recs) != 2 {
		t.Fatalf("audit: %d resigned records, want 2 (alpha and beta; gamma was S2's already): %v", len(recs), err)
	}

	// 4. S1 retired: K3 rolls out.
	k3 := sk.Public(t, "k3", s1)
	for _, k := range []string{k2, k3} {
		fleettest.AllVerified(t, "4: K3 rolling out", k, urls(s, paths)...)
	}
}

// TestFleetHoldsOneKey: why the rotation adds a subkey rather than a new
// key. Fleet reads gpgKeyPath with openpgp.js readKey, which takes one
// key: a file of two keys is not read at all, and a new, separate key
// verifies nothing the old one signed.
func TestFleetHoldsOneKey(t *testing.T) {
	oldKey, newKey := sigtest.NewKey(t, "old-store"), sigtest.NewKey(t, "new-store")
	s := servertest.Start(t, servertest.Options{Memory: true, Configure: func(c *server.Config) { c.StoreKey = oldKey.Signer }})
	zip := ziptest.Package(t, "one", "1.0.0")
	if sub := s.Publish(t, "one-1.0.0.zip", zip, client.Options{Legacy: true}); sub.Status != api.StatusPublished {
		t.Fatalf("publish: %+v", sub)
	}
	s.WaitVisible(t, "one", "1.0.0")
	url := s.URL + "/epr/one/one-1.0.0.zip"
	fleettest.AllVerified(t, "old store key", oldKey.PublicPath, url)
	if r := fleettest.Verify(t, newKey.PublicPath, url); r.Results[0].Verified {
		t.Fatal("a separate new key verified the old key's signature")
	}
	// gpgKeyPath holding both keys: two armored blocks (cat old new),
	// and one block of both (gpg --export old new).
	files := map[string][2]string{}
	for _, order := range [][2]*sigtest.Key{{oldKey, newKey}, {newKey, oldKey}} {
		name := order[0].Fingerprint[:8] + "-first"
		var blocks, bin []byte
		for _, k := range order {
			a, err := os.ReadFile(k.PublicPath)
			if err != nil {
				t.Fatal(err)
			}
			blocks = append(append(blocks, a...), '\n')
			blk, err := armor.Decode(bytes.NewReader(a))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := io.ReadAll(blk.Body)
			if err != nil {
				t.Fatal(err)
			}
			bin = append(bin, raw...)
		}
		var one bytes.Buffer
		w, _ := armor.Encode(&one, openpgp.PublicKeyType, nil)
		w.Write(bin)
		w.Close()
		dir := t.TempDir()
		files[name] = [2]string{filepath.Join(dir, "blocks.asc"), filepath.Join(dir, "one.asc")}
		os.WriteFile(files[name][0], blocks, 0o600)
		os.WriteFile(files[name][1], one.Bytes(), 0o600)
		oldFirst := order[0] == oldKey
		// Two blocks: readKey reads the first block's key only.
		if r := fleettest.Verify(t, files[name][0], url); r.Results[0].Verified != oldFirst {
			t.Errorf("two armored blocks, old key first %v: %+v", oldFirst, r)
		}
		// One block of two keys: readKey refuses it; Fleet has no key.
		if r := fleettest.Verify(t, files[name][1], url); r.KeyError == "" || r.Results[0].Verified {
			t.Errorf("one armored block of two keys, old key first %v: %+v", oldFirst, r)
		} else {
			t.Logf("one block of two keys: %s", r.KeyError)
		}
	}
}

func loadKey(path string) (*signature.SigningKey, error) {
	return signature.LoadStoreKey(path, "", time.Now())
}
