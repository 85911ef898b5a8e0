package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/govern/provenance"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/ziptest"
)

// TestMirrorResignCommands (issue 24): mirror --to and import with
// --resign-key: wrong keys and wrong targets are refused with their
// reason; a good run serves the site's signature and keeps the upstream's
// in the provenance.
func TestMirrorResignCommands(t *testing.T) {
	owner, site, op := sigtest.NewKey(t, "upstream-owner"), sigtest.NewKey(t, "site"), sigtest.NewKey(t, "operator")
	up := servertest.Start(t, servertest.Options{Key: owner})
	zip := ziptest.Package(t, "cli", "1.0.0")
	if sub := up.Publish(t, "cli-1.0.0.zip", zip, client.Options{Legacy: true}); sub.Status != api.StatusPublished {
		t.Fatalf("upstream publish: %+v", sub)
	}
	up.WaitVisible(t, "cli", "1.0.0")
	siteStore := func() *servertest.Store {
		return servertest.Start(t, servertest.Options{Key: site})
	}
	target, imported := siteStore(), siteStore()
	dir := t.TempDir()
	bundle := filepath.Join(dir, "site.bundle")
	missing := filepath.Join(dir, "absent.asc")
	mirrorTo := []string{"mirror", "--from", up.URL, "--keyring", owner.PublicPath, "--to", target.URL, "--token", servertest.Token}
	importArgs := []string{"import", bundle, "--registry", imported.URL, "--token", servertest.Token, "--bundle-keyring", op.PublicPath}
	with := func(base []string, more ...string) []string { return append(append([]string{}, base...), more...) }
	tests := []struct {
		name string
		args []string
		code int
		out  []string
	}{
		{"mirror: a public key", with(mirrorTo, "--resign-key", owner.PublicPath), 1, []string{"--resign-key", "is this a public key"}},
		{"mirror: a missing key", with(mirrorTo, "--resign-key", missing), 2, []string{"--resign-key", "no such file"}},
		{"mirror: passphrase alone", with(mirrorTo, "--resign-passphrase-file", owner.PublicPath), 2, []string{"--resign-passphrase-file without --resign-key"}},
		{"mirror: into a bundle", []string{"mirror", "--from", up.URL, "--keyring", owner.PublicPath, "--bundle", filepath.Join(dir, "x.bundle"), "--resign-key", site.PrivatePath}, 2, []string{"import --resign-key", "--store-signing-key"}},
		{"mirror: into OCI", []string{"mirror", "--from", up.URL, "--keyring", owner.PublicPath, "--to", "oci://127.0.0.1:1/x:y", "--resign-key", site.PrivatePath}, 2, []string{"import --resign-key"}},
		{"mirror: re-signed", with(mirrorTo, "--resign-key", site.PrivatePath), 0, []string{"published:"}},
		{"bundle", []string{"mirror", "--from", up.URL, "--keyring", owner.PublicPath, "--bundle", bundle, "--sign-key", op.PrivatePath}, 0, nil},
		{"import: without --keyring", with(importArgs, "--resign-key", site.PrivatePath), 2, []string{"--resign-key needs --keyring"}},
		{"import: a public key", with(importArgs, "--keyring", owner.PublicPath, "--resign-key", site.PublicPath), 1, []string{"is this a public key"}},
		{"import: re-signed", with(importArgs, "--keyring", owner.PublicPath, "--resign-key", site.PrivatePath), 0, []string{"published:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runCLIWant(t, tt.args, tt.code, tt.out)
		})
	}
	_, upSig := up.Get(t, "/epr/cli/cli-1.0.0.zip.sig")
	for name, s := range map[string]*servertest.Store{"mirror": target, "import": imported} {
		s.WaitVisible(t, "cli", "1.0.0")
		_, served := s.Get(t, "/epr/cli/cli-1.0.0.zip.sig")
		if _, err := site.Keyring.Verify(bytes.NewReader(zip), bytes.NewReader(served)); err != nil {
			t.Errorf("%s: the served signature is not the site's: %v", name, err)
		}
		rev, err := provenance.Read(context.Background(), s.Server.Buckets.Internal, packageid.ID{Name: "cli", Version: "1.0.0"})
		if err != nil || rev.UpstreamSignature != string(upSig) || rev.Signer == nil || rev.Signer.Fingerprint != site.Fingerprint {
			t.Errorf("%s: provenance %+v %v: want the upstream's signature kept and the site as signer", name, rev, err)
		}
	}
}
