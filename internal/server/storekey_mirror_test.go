package server_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/client/mirror"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/server"
	"pkgstore/internal/testkit/fleettest"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/ziptest"
)

// TestStoreKeyMirrorTarget: a mirror into an air-gapped store that signs
// with its own key. The upstream's signature (Elastic's) is verified by
// the mirror against its keyring and again by the store, kept in the
// provenance, and the store's signature is served: an air-gapped Kibana
// holding the store's key alone verifies the mirrored packages and the
// store's own teams' packages.
func TestStoreKeyMirrorTarget(t *testing.T) {
	elastic, team, airgap := sigtest.NewKey(t, "elastic"), sigtest.NewKey(t, "team"), sigtest.NewKey(t, "airgap-store")
	upstream := servertest.Start(t, servertest.Options{Memory: true, Key: elastic})
	ctx := context.Background()
	upZip := ziptest.Package(t, "upstreampkg", "1.0.0")
	if sub := upstream.Publish(t, "upstreampkg-1.0.0.zip", upZip, client.Options{Legacy: true}); sub.Status != api.StatusPublished {
		t.Fatalf("upstream publish: %+v", sub)
	}
	upstream.WaitVisible(t, "upstreampkg", "1.0.0")
	_, upSig := upstream.Get(t, "/epr/upstreampkg/upstreampkg-1.0.0.zip.sig")

	target := servertest.Start(t, servertest.Options{Key: team, Configure: func(c *server.Config) {
		c.Keyrings = []string{elastic.PublicPath, team.PublicPath}
		c.StoreKey = airgap.Signer
		c.TokensFile = writeTokens(t)
	}})
	sum, err := mirror.Run(ctx, mirror.Config{From: upstream.URL, Filters: mirror.Filters{AllVersions: true}, Keyring: elastic.Keyring, To: target.Client,
		Retry: client.Retry{Attempts: 2, Backoff: 10 * time.Millisecond}})
	if err != nil || !sum.OK() || sum.Transferred != 1 {
		t.Fatalf("mirror: %v %+v", err, sum)
	}
	teamZip := ziptest.Package(t, "private", "1.0.0")
	if sub := target.Publish(t, "private-1.0.0.zip", teamZip, client.Options{Legacy: true}); sub.Status != api.StatusPublished {
		t.Fatalf("team publish: %+v", sub)
	}
	target.WaitVisible(t, "upstreampkg", "1.0.0")
	target.WaitVisible(t, "private", "1.0.0")
	fleettest.AllVerified(t, "air-gapped store key", airgap.PublicPath,
		target.URL+"/epr/upstreampkg/upstreampkg-1.0.0.zip", target.URL+"/epr/private/private-1.0.0.zip")
	info, err := newClient(t, target, secretAudit).Revision(ctx, packageid.ID{Name: "upstreampkg", Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	if rev := info.Revision; rev == nil || rev.Signer == nil || rev.Signer.Fingerprint != elastic.Fingerprint || !bytes.Equal([]byte(rev.OwnerSignature), upSig) || rev.StoreSigner == nil || rev.StoreSigner.Fingerprint != airgap.Fingerprint {
		t.Fatalf("provenance of the mirrored revision: %+v", info.Revision)
	}
}
