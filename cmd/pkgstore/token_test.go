package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"pkgstore/internal/client/exitcode"
	"pkgstore/internal/govern/tokens"
	"pkgstore/internal/server"
	"pkgstore/internal/testkit/servertest"
)

// tokenDoc is token create --format's document.
type tokenDoc struct {
	Secret string    `json:"secret" yaml:"secret"`
	Token  tokenInfo `json:"token" yaml:"token"`
}

// TestTokenCommands is issue 26's token life cycle: create --format json
// and yaml give the secret and the entry as data (prose on stderr), list
// shows names, scopes, patterns and expiry and never a secret, hash gives
// the digest the file stores, and revoke edits the file atomically so that
// the running serve refuses the token (exit 4) within seconds.
func TestTokenCommands(t *testing.T) {
	stdout, stderr, code := runCLI(t, "token", "create", "ops", "--scope", "audit,yank", "--package", "*", "--format", "json")
	var ops tokenDoc
	if code != 0 || json.Unmarshal([]byte(stdout), &ops) != nil || !strings.HasPrefix(ops.Secret, tokens.SecretPrefix) {
		t.Fatalf("create --format json: exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "shown once") || strings.Contains(stdout, "shown once") {
		t.Errorf("the prose belongs on stderr: stdout %q, stderr %q", stdout, stderr)
	}
	stdout, _, code = runCLI(t, "token", "create", "ci", "--scope", "publish", "--packages", "aws*", "--expires", "30d", "--format", "yaml")
	// cobra prints a deprecated flag's note with Print: stderr in the
	// binary (no SetOut), the one buffer runCLI gives as stdout here.
	note, stdout, _ := strings.Cut(stdout, "\n")
	if note != "Flag --packages has been deprecated, use --package" {
		t.Errorf("no deprecation note for --packages: %q", note)
	}
	var ci tokenDoc
	if code != 0 || yaml.Unmarshal([]byte(stdout), &ci) != nil || ci.Token.Name != "ci" || ci.Token.Expires == nil || ci.Token.Packages[0] != "aws*" {
		t.Fatalf("create --format yaml (old --packages): exit %d, stdout:\n%s", code, stdout)
	}
	stdout, _, code = runCLI(t, "token", "hash")
	if code != exitcode.Usage {
		t.Errorf("hash of an empty stdin: exit %d, stdout %q", code, stdout)
	}

	// The file an operator writes from the two entries.
	var entries []tokens.Token
	for _, d := range []tokenDoc{ops, ci} {
		var sc []tokens.Scope
		for _, s := range d.Token.Scopes {
			sc = append(sc, tokens.Scope(s))
		}
		entries = append(entries, tokens.Token{Name: d.Token.Name, SHA256: d.Token.SHA256, Scopes: sc, Packages: d.Token.Packages, Expires: d.Token.Expires})
	}
	data, err := yaml.Marshal(tokens.File{Tokens: entries})
	if err != nil {
		t.Fatal(err)
	}
	tf := filepath.Join(t.TempDir(), "tokens.yml")
	if err := os.WriteFile(tf, append([]byte("# the store's tokens\n"), data...), 0o640); err != nil {
		t.Fatal(err)
	}

	// hash: stdin secret -> the file's digest.
	root := newRootCmd()
	var hashOut strings.Builder
	root.SetArgs([]string{"token", "hash"})
	root.SetIn(strings.NewReader(ops.Secret + "\n"))
	root.SetOut(&hashOut)
	if err := root.Execute(); err != nil || strings.TrimSpace(hashOut.String()) != ops.Token.SHA256 {
		t.Errorf("hash: %v, %q, want %s", err, hashOut.String(), ops.Token.SHA256)
	}

	// list: no secret, every name, scope, pattern, expiry.
	stdout, _, code = runCLI(t, "token", "list", "--tokens-file", tf)
	for _, want := range []string{"NAME", "ops", "audit,yank", "ci", "publish", "aws*", "never"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("list: exit %d, lacks %q:\n%s", code, want, stdout)
		}
	}
	stdout, _, code = runCLI(t, "token", "list", "--tokens-file", tf, "--format", "json")
	var list []tokenInfo
	if code != 0 || json.Unmarshal([]byte(stdout), &list) != nil || len(list) != 2 || list[0].Name != "ops" || list[1].Expires == nil {
		t.Fatalf("list --format json: exit %d:\n%s", code, stdout)
	}
	if strings.Contains(stdout, ops.Secret) || strings.Contains(stdout, ci.Secret) {
		t.Fatal("list printed a secret")
	}

	s := servertest.Start(t, servertest.Options{Configure: func(c *server.Config) { c.TokensFile = tf }})
	if out, code := runCLITimeout(t, 30*time.Second, "audit", "--registry", s.URL, "--token", ops.Secret); code != 0 {
		t.Fatalf("audit with the new token: exit %d:\n%s", code, out)
	}
	if _, _, code := runCLI(t, "token", "revoke", "nobody", "--tokens-file", tf); code != exitcode.Refused {
		t.Errorf("revoke of an unknown name: exit %d, want 1", code)
	}
	_, stderr, code = runCLI(t, "token", "revoke", "ops", "--tokens-file", tf)
	if code != 0 || !strings.Contains(stderr, "revoked token ops") {
		t.Fatalf("revoke: exit %d: %s", code, stderr)
	}
	after, err := os.ReadFile(tf)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(tf); fi.Mode().Perm() != 0o640 {
		t.Errorf("revoke changed the file's mode to %v", fi.Mode().Perm())
	}
	set, err := tokens.Parse(after)
	if err != nil || set.Len() != 1 || set.Entries()[0].Name != "ci" || !strings.Contains(string(after), "# the store's tokens") {
		t.Fatalf("after revoke (%v):\n%s", err, after)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, code := runCLITimeout(t, 30*time.Second, "audit", "--registry", s.URL, "--token", ops.Secret)
		if code == exitcode.Auth {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the serve still accepts a revoked token after 30s: exit %d:\n%s", code, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Revoking the last one leaves "tokens: []", which a serve reads as
	// every named token revoked on purpose.
	if _, stderr, code := runCLI(t, "token", "revoke", "ci", "--tokens-file", tf); code != 0 {
		t.Fatalf("revoke the last: exit %d: %s", code, stderr)
	}
	if last, _ := os.ReadFile(tf); !strings.Contains(string(last), "tokens: []") {
		t.Errorf("after the last revoke:\n%s", last)
	}
}
