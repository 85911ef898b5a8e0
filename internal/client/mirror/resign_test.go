package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"pkgstore/internal/client/mirror"
	"pkgstore/internal/govern/provenance"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/server"
	"pkgstore/internal/testkit/fleettest"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
)

// resignTarget starts a store whose keyring holds the site's key (and the
// upstream's too when alsoUpstream).
func resignTarget(t *testing.T, site, upstream *sigtest.Key, alsoUpstream bool) *servertest.Store {
	t.Helper()
	return servertest.Start(t, servertest.Options{Key: site, Configure: func(c *server.Config) {
		if alsoUpstream {
			c.Keyrings = append(c.Keyrings, upstream.PublicPath)
		}
	}})
}

// checkResigned asserts what a re-signed mirror leaves in target for each
// of zips: the served signature is the site's and Kibana's own check
// (openpgp.js, the site's key alone) passes; the provenance keeps the
// upstream's signature, which verifies with the upstream's key, and names
// its signer only when the store's keyring holds that key.
func checkResigned(t *testing.T, target *servertest.Store, site, upstream *sigtest.Key, zips map[string][]byte, upstreamSigner bool) {
	t.Helper()
	ctx := context.Background()
	var urls []string
	for s, z := range zips {
		id, err := packageid.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		target.WaitVisible(t, id.Name, id.Version)
		zipURL := "/epr/" + id.Name + "/" + id.ZipName()
		if _, got := target.Get(t, zipURL); !bytes.Equal(got, z) {
			t.Errorf("%s: the store's zip differs from the upstream's", id)
		}
		_, served := target.Get(t, zipURL+".sig")
		if _, err := site.Keyring.Verify(bytes.NewReader(z), bytes.NewReader(served)); err != nil {
			t.Errorf("%s: the served signature is not the site's: %v", id, err)
		}
		if _, err := upstream.Keyring.Verify(bytes.NewReader(z), bytes.NewReader(served)); err == nil {
			t.Errorf("%s: the upstream's key verifies the served signature: not re-signed", id)
		}
		urls = append(urls, target.URL+zipURL)
		rev, err := provenance.Read(ctx, target.Server.Buckets.Internal, id)
		if err != nil || rev == nil {
			t.Fatalf("%s: provenance: %v %+v", id, err, rev)
		}
		if rev.Signer == nil || rev.Signer.Fingerprint != site.Fingerprint {
			t.Errorf("%s: signer %+v, want the site's key %s", id, rev.Signer, site.Fingerprint)
		}
		if rev.UpstreamSignature == "" {
			t.Fatalf("%s: no upstream signature in the provenance: %+v", id, rev)
		}
		if _, err := upstream.Keyring.Verify(bytes.NewReader(z), strings.NewReader(rev.UpstreamSignature)); err != nil {
			t.Errorf("%s: the upstream signature kept does not verify with the upstream's key: %v", id, err)
		}
		switch {
		case upstreamSigner && (rev.UpstreamSigner == nil || rev.UpstreamSigner.Fingerprint != upstream.Fingerprint):
			t.Errorf("%s: upstream signer %+v, want %s (the store's keyring holds it)", id, rev.UpstreamSigner, upstream.Fingerprint)
		case !upstreamSigner && rev.UpstreamSigner != nil:
			t.Errorf("%s: upstream signer %+v, want none (the store's keyring lacks the upstream's key)", id, rev.UpstreamSigner)
		}
	}
	fleettest.AllVerified(t, "re-signed by the site", site.PublicPath, urls...)
}

// TestResignMirrorToStore (issue 24): mirror --to --resign-key. The
// upstream's packages are signed by its owner; the site's Kibana knows the
// site's key only. The mirror verifies each upstream signature, re-signs
// with the site's key, and the store keeps the upstream's signature as
// provenance.
func TestResignMirrorToStore(t *testing.T) {
	owner, site := sigtest.NewKey(t, "upstream-owner"), sigtest.NewKey(t, "site")
	up, zips := storeUpstream(t, owner, catalog[:2])
	for _, holdsUpstream := range []bool{false, true} {
		name := "store keyring: site key only"
		if holdsUpstream {
			name = "store keyring: site and upstream keys"
		}
		t.Run(name, func(t *testing.T) {
			target := resignTarget(t, site, owner, holdsUpstream)
			cfg := mirror.Config{From: up.URL, Filters: mirror.Filters{AllVersions: true}, Keyring: owner.Keyring, To: target.Client, ResignKey: site.Signer, Retry: fastRetry}
			sum, err := mirror.Run(context.Background(), cfg)
			if err != nil || !sum.OK() || sum.Transferred != 2 {
				t.Fatalf("mirror: %v %+v", err, sum)
			}
			checkResigned(t, target, site, owner, zips, holdsUpstream)
			// A second run finds everything present.
			sum, err = mirror.Run(context.Background(), cfg)
			if err != nil || sum.Transferred != 0 || sum.Present != 2 {
				t.Fatalf("second run: %v %+v", err, sum)
			}
		})
	}
}

// TestResignRefusesBadUpstream: a zip whose upstream signature does not
// verify is refused by the mirror, never re-signed (the store trusts the
// site's key: a re-signed tampered zip would be published); the rest is.
func TestResignRefusesBadUpstream(t *testing.T) {
	owner, site := sigtest.NewKey(t, "upstream-owner"), sigtest.NewKey(t, "site")
	up, _ := storeUpstream(t, owner, catalog[:2])
	victim := "alpha-1.1.0"
	rl := newRelay(t, up.URL, func(p string, _ int) fault {
		if p == "/epr/alpha/"+victim+".zip" {
			return flipZipByte
		}
		return pass
	})
	target := resignTarget(t, site, owner, false)
	sum, err := mirror.Run(context.Background(), mirror.Config{From: rl.URL, Filters: mirror.Filters{AllVersions: true}, Keyring: owner.Keyring, To: target.Client, ResignKey: site.Signer, Retry: fastRetry})
	if err != nil {
		t.Fatalf("run stopped: %v", err)
	}
	if sum.Transferred != 1 || len(sum.Failed) != 1 || sum.Failed[0].ID.String() != victim {
		t.Fatalf("want %s refused and the other published: %+v", victim, sum)
	}
	if r := strings.Join(sum.Failed[0].Reasons, "; "); !strings.Contains(r, "signature does not match the file's bytes") {
		t.Errorf("reasons %q, want the upstream signature's mismatch", r)
	}
	noneOf(t, target, victim)
}

// TestResignImport: a bundle (mirror --bundle, the upstream's signatures)
// imported with --resign-key ends as a re-signed mirror does; without the
// package keyring, or with a bundle or OCI target, --resign-key is refused.
func TestResignImport(t *testing.T) {
	owner, site, op := sigtest.NewKey(t, "upstream-owner"), sigtest.NewKey(t, "site"), sigtest.NewKey(t, "operator")
	up, zips := storeUpstream(t, owner, catalog[:2])
	b, _ := makeBundle(t, up, owner, op, mirror.Filters{AllVersions: true})
	target := resignTarget(t, site, owner, true)
	ctx := context.Background()
	if _, err := mirror.Import(ctx, mirror.ImportConfig{Bundle: b, To: target.Client, BundleKeyring: op.Keyring, ResignKey: site.Signer, Retry: fastRetry}); !errors.Is(err, mirror.ErrResignNeedsKeyring) {
		t.Fatalf("import --resign-key without --keyring: %v, want ErrResignNeedsKeyring", err)
	}
	sum, err := mirror.Import(ctx, mirror.ImportConfig{Bundle: b, To: target.Client, BundleKeyring: op.Keyring, Keyring: owner.Keyring, ResignKey: site.Signer, Retry: fastRetry})
	if err != nil || !sum.OK() || sum.Transferred != 2 {
		t.Fatalf("import: %v %+v", err, sum)
	}
	checkResigned(t, target, site, owner, zips, true)

	for _, cfg := range []mirror.Config{
		{From: up.URL, Keyring: owner.Keyring, Bundle: filepath.Join(t.TempDir(), "x.bundle"), ResignKey: site.Signer},
		{From: up.URL, Keyring: owner.Keyring, OCI: &mirror.OCITarget{Ref: "oci://127.0.0.1:1/x:y"}, ResignKey: site.Signer},
	} {
		if _, err := mirror.Run(ctx, cfg); !errors.Is(err, mirror.ErrResignTarget) {
			t.Errorf("--resign-key with a bundle or OCI target: %v, want ErrResignTarget", err)
		}
	}
}
