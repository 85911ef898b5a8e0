package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pkgstore/internal/govern/audit"
	"pkgstore/internal/server"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/ziptest"
)

// createToken runs `pkgstore token create` and returns the secret and the
// YAML entry it printed.
func createToken(t *testing.T, args ...string) (secret, entry string) {
	t.Helper()
	out, errOut, code := runCLI(t, append([]string{"token", "create"}, args...)...)
	if code != 0 {
		t.Fatalf("token create: exit %d: %s", code, errOut)
	}
	lines := strings.Split(out, "\n")
	if len(lines) < 6 {
		t.Fatalf("token create printed:\n%s", out)
	}
	secret = strings.TrimSpace(lines[2])
	_, entry, ok := strings.Cut(out, "under \"tokens:\":\n\n")
	if !ok || secret == "" {
		t.Fatalf("token create printed:\n%s", out)
	}
	return secret, entry
}

// TestGovernanceCommands: tokens made by `token create` work in a running
// store; `audit` answers who published what, from the API and from the
// buckets; `yank`, `unyank` and `verify --registry` do what they say.
func TestGovernanceCommands(t *testing.T) {
	pubSecret, pubEntry := createToken(t, "ci-cli", "--scope", "publish", "--package", "cli*", "--expires", "30d")
	opsSecret, opsEntry := createToken(t, "ops", "--scope", "yank,audit", "--package", "*")
	if strings.Contains(pubEntry+opsEntry, pubSecret) || strings.Contains(pubEntry+opsEntry, opsSecret) {
		t.Fatal("a printed entry holds a secret")
	}
	tf := filepath.Join(t.TempDir(), "tokens.yml")
	if err := os.WriteFile(tf, []byte("tokens:\n"+pubEntry+opsEntry), 0o600); err != nil {
		t.Fatal(err)
	}
	s := servertest.Start(t, servertest.Options{Configure: func(c *server.Config) { c.TokensFile = tf }})
	dir := t.TempDir()
	zip := ziptest.Package(t, "cli", "1.0.0")
	zipPath := writeFile(t, filepath.Join(dir, "cli-1.0.0.zip"), zip)
	writeFile(t, zipPath+".sig", s.Key.Sign(t, zip))
	sum := sha256.Sum256(zip)
	other := ziptest.Package(t, "other", "1.0.0")
	otherPath := writeFile(t, filepath.Join(dir, "other-1.0.0.zip"), other)
	writeFile(t, otherPath+".sig", s.Key.Sign(t, other))
	keyring := s.Key.PublicPath
	// A file with the published name but other bytes, signed by the same key.
	forged := ziptest.Package(t, "cli", "1.0.0", ziptest.Entry{Name: "extra.txt", Body: []byte("x")})
	forgedPath := writeFile(t, filepath.Join(t.TempDir(), "cli-1.0.0.zip"), forged)
	writeFile(t, forgedPath+".sig", s.Key.Sign(t, forged))

	reg := []string{"--registry", s.URL}
	tests := []struct {
		name string
		args []string
		code int
		out  []string
	}{
		{"publish", append([]string{"publish", zipPath, "--legacy", "--token", pubSecret}, reg...), 0, []string{"published cli-1.0.0"}},
		{"publish outside the pattern", append([]string{"publish", otherPath, "--legacy", "--token", pubSecret}, reg...), 4, []string{`token "ci-cli" may not publish package "other": it is limited to packages "cli*"`}},
		{"who published", append([]string{"audit", "--token", opsSecret, "--package", "cli", "--version", "1.0.0", "--event", "published"}, reg...), 0,
			[]string{"published  cli      1.0.0    ci-cli  127.0.0.1", s.Key.Fingerprint, hex.EncodeToString(sum[:])}},
		{"who published, from the buckets", []string{"audit", "--data", s.Data, "--package", "cli", "--event", "published"}, 0, []string{"ci-cli", s.Key.Fingerprint}},
		{"audit needs the scope", append([]string{"audit", "--token", pubSecret}, reg...), 4, []string{`lacks the "audit" scope`}},
		{"audit bad event", []string{"audit", "--data", s.Data, "--event", "deleted"}, 2, []string{`unknown event "deleted"`}},
		{"audit bad since", []string{"audit", "--data", s.Data, "--since", "yesterday"}, 2, []string{`"yesterday" is not a time`}},
		{"yank without reason", append([]string{"yank", "cli", "1.0.0", "--token", opsSecret}, reg...), 2, []string{"--reason is required"}},
		{"yank with a publish token", append([]string{"yank", "cli", "1.0.0", "--reason", "x", "--token", pubSecret}, reg...), 4, []string{`lacks the "yank" scope`}},
		{"yank", append([]string{"yank", "cli", "1.0.0", "--reason", "broken dashboards", "--token", opsSecret}, reg...), 0, []string{"cli-1.0.0 yanked by ops", "broken dashboards"}},
		{"yank again", append([]string{"yank", "cli", "1.0.0", "--reason", "again", "--token", opsSecret}, reg...), 0, []string{"cli-1.0.0 was already yanked"}},
		{"verify against the store", append([]string{"verify", zipPath, "--keyring", keyring, "--token", opsSecret}, reg...), 0,
			[]string{"good signature", "token:       ci-cli", "sha256:      " + hex.EncodeToString(sum[:]), "signing key: " + s.Key.Fingerprint, "YANKED by ops", "matches the file"}},
		{"verify other bytes", append([]string{"verify", forgedPath, "--keyring", keyring, "--token", opsSecret}, reg...), 1, []string{"is not the published cli-1.0.0: sha256"}},
		{"unyank", append([]string{"unyank", "cli", "1.0.0", "--token", opsSecret}, reg...), 0, []string{"cli-1.0.0 unyanked by ops"}},
		{"unyank unpublished", append([]string{"unyank", "cli", "9.0.0", "--token", opsSecret}, reg...), 1, []string{"cli-9.0.0 is not published"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, out := runCLIWant(t, tt.args, tt.code, tt.out)
			for _, secret := range []string{pubSecret, opsSecret} {
				if strings.Contains(out, secret) {
					t.Errorf("output shows a secret:\n%s", out)
				}
			}
		})
	}

	// The JSON form, from the buckets: the whole history of cli 1.0.0.
	stdout, stderr, code := runCLI(t, "audit", "--data", s.Data, "--package", "cli", "--version", "1.0.0", "--format", "json")
	if code != 0 {
		t.Fatalf("audit --format json: %d %s", code, stderr)
	}
	var recs []audit.Record
	if err := json.Unmarshal([]byte(stdout), &recs); err != nil {
		t.Fatalf("audit --format json: %v\n%s", err, stdout)
	}
	var events []string
	for _, r := range recs {
		events = append(events, string(r.Event))
	}
	if got, want := strings.Join(events, ","), "received,published,yanked,unyanked"; got != want {
		t.Fatalf("history %s, want %s", got, want)
	}
	if recs[2].Reason != "broken dashboards" || recs[2].Token != "ops" {
		t.Fatalf("yank record %+v", recs[2])
	}
}
