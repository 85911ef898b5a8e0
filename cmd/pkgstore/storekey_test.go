package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/govern/resign"
	"pkgstore/internal/server"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/ziptest"
)

// TestStoreKeyCommands: serve's --store-signing-key (flag and
// environment) refuses every wrong key with its reason; `verify
// --registry` shows the store key and checks the owner's signature kept
// in the provenance; `resign` re-signs, then skips what it signed.
func TestStoreKeyCommands(t *testing.T) {
	store, next := sigtest.NewKey(t, "store"), sigtest.NewKey(t, "next-store")
	opsSecret, opsEntry := createToken(t, "ops", "--scope", "audit", "--package", "*")
	tf := writeFile(t, filepath.Join(t.TempDir(), "tokens.yml"), []byte("tokens:\n"+opsEntry))
	s := servertest.Start(t, servertest.Options{Configure: func(c *server.Config) {
		c.TokensFile = tf
		c.StoreKey = store.Signer
	}})
	zip := ziptest.Package(t, "cli", "1.0.0")
	if sub := s.Publish(t, "cli-1.0.0.zip", zip, client.Options{Legacy: true}); sub.Status != api.StatusPublished {
		t.Fatalf("publish: %+v", sub)
	}
	s.WaitVisible(t, "cli", "1.0.0")
	dir := t.TempDir()
	zipPath := writeFile(t, filepath.Join(dir, "cli-1.0.0.zip"), zip)
	_, served := s.Get(t, "/epr/cli/cli-1.0.0.zip.sig")
	writeFile(t, zipPath+".sig", served)
	missing := filepath.Join(dir, "absent.asc")
	data := filepath.Join(t.TempDir(), "data")

	tests := []struct {
		name string
		env  string
		args []string
		code int
		out  []string
	}{
		{"serve: a public key", "", []string{"serve", "--data", data, "--dry-run", "--store-signing-key", store.PublicPath}, 1, []string{"--store-signing-key", "is this a public key"}},
		{"serve: from the environment", store.PublicPath, []string{"serve", "--data", data, "--dry-run"}, 1, []string{"is this a public key"}},
		{"serve: a missing file", "", []string{"serve", "--data", data, "--dry-run", "--store-signing-key", missing}, 2, []string{"--store-signing-key", "no such file"}},
		{"serve: not a key", "", []string{"serve", "--data", data, "--dry-run", "--store-signing-key", tf}, 1, []string{"want an armored OpenPGP private key"}},
		{"serve: passphrase file alone", "", []string{"serve", "--data", data, "--dry-run", "--store-signing-key-passphrase-file", tf}, 2, []string{"without --store-signing-key"}},
		{"serve: a good key", "", []string{"serve", "--data", data, "--dry-run", "--store-signing-key", store.PrivatePath}, 0, nil},
		{"verify: store and owner keys", "", []string{"verify", zipPath, "--keyring", store.PublicPath, "--keyring", s.Key.PublicPath, "--registry", s.URL, "--token", opsSecret}, 0,
			[]string{"good signature", "fingerprint: " + store.Fingerprint, "signing key: " + s.Key.Fingerprint, "store key:   " + store.Fingerprint, "owner signature: good, by " + s.Key.Fingerprint, "matches the file"}},
		{"verify: store key alone", "", []string{"verify", zipPath, "--keyring", store.PublicPath, "--registry", s.URL, "--token", opsSecret}, 0,
			[]string{"owner signature: kept, not verified with --keyring", "matches the file"}},
		{"resign: no key", "", []string{"resign", "--data", s.Data}, 2, []string{"--key is required"}},
		{"resign: a public key", "", []string{"resign", "--data", s.Data, "--key", next.PublicPath}, 1, []string{"is this a public key"}},
		{"resign: a missing store", "", []string{"resign", "--data", filepath.Join(dir, "nothing"), "--key", next.PrivatePath}, 5, nil},
		{"resign", "", []string{"resign", "--data", s.Data, "--key", next.PrivatePath, "--keyring", store.PublicPath}, 0, []string{"resigned cli-1.0.0 (vouched by the served signature by " + store.Fingerprint, "1 re-signed"}},
		{"resign again", "", []string{"resign", "--data", s.Data, "--key", next.PrivatePath}, 0, []string{"0 re-signed, 1 already signed by it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("PKGSTORE_STORE_SIGNING_KEY", tt.env)
			}
			runCLIWant(t, tt.args, tt.code, tt.out)
		})
	}
	// The store now serves the new key's signature.
	_, served = s.Get(t, "/epr/cli/cli-1.0.0.zip.sig")
	writeFile(t, zipPath+".sig", served)
	stdout, stderr, code := runCLI(t, "verify", zipPath, "--keyring", next.PublicPath, "--registry", s.URL, "--token", opsSecret, "--format", "json")
	if code != 0 {
		t.Fatalf("verify after resign: %d %s %s", code, stdout, stderr)
	}
	// resign --format json is one document.
	stdout, _, code = runCLI(t, "resign", "--data", s.Data, "--key", next.PrivatePath, "--format", "json")
	var res struct {
		resign.Result
		ExitCode *int `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != 0 || res.Skipped != 1 || len(res.Items) != 1 || res.ExitCode == nil || *res.ExitCode != 0 {
		t.Fatalf("resign --format json: %d %v %s", code, err, stdout)
	}
	// A refusal is one document too, with its exit code.
	stdout, _, code = runCLI(t, "resign", "--data", s.Data, "--key", store.PrivatePath, "--format", "json")
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != 1 || res.Refused != 1 || *res.ExitCode != 1 || !strings.Contains(stdout, "nothing trusted vouches") {
		t.Fatalf("refused resign --format json: %d %v %s", code, err, stdout)
	}
}
