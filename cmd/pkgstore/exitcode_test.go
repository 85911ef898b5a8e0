package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/client/exitcode"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/ziptest"
)

// TestExitCodeTable is issue 26's attack: a 403 exited 2 from publish (the
// code for "cannot connect") and 1 from yank, audit and mirror, so a
// script could not tell a bad token from a dead registry. Every command
// class now exits by the README's one table, against a real store (a bad
// token: 403), a dead port (connection refused), a refusal and a usage
// mistake.
func TestExitCodeTable(t *testing.T) {
	t.Setenv("PKGSTORE_TOKEN", "")
	t.Setenv("PKGSTORE_PUBLISH_TOKEN", "")
	s := servertest.Start(t, servertest.Options{})
	dir := t.TempDir()
	good := ziptest.Package(t, "exits", "1.0.0")
	goodPath := writeFile(t, filepath.Join(dir, "exits-1.0.0.zip"), good)
	writeFile(t, goodPath+".sig", s.Key.Sign(t, good))
	bad := ziptest.Build(t, ziptest.Entry{Name: "exits-2.0.0/manifest.yml", Body: ziptest.Manifest("other", "2.0.0")})
	badPath := writeFile(t, filepath.Join(dir, "exits-2.0.0.zip"), bad)
	writeFile(t, badPath+".sig", s.Key.Sign(t, bad))
	if _, _, code := runCLI(t, "publish", goodPath, "--registry", s.URL, "--token", servertest.Token, "--legacy"); code != 0 {
		t.Fatalf("first publish: exit %d", code)
	}
	forged := writeFile(t, filepath.Join(dir, "exits-3.0.0.zip"), ziptest.Package(t, "exits", "3.0.0"))
	writeFile(t, forged+".sig", s.Key.Sign(t, good)) // signs other bytes
	target := servertest.Start(t, servertest.Options{Memory: true})
	const dead = "http://127.0.0.1:1"
	missing := filepath.Join(dir, "no", "data")
	v1 := v1Tree(t, map[string]string{"delta/1.0.0/manifest.yml": v1Manifest("delta", "1.0.0")})

	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		// publish
		{"publish ok", []string{"publish", goodPath, "--registry", s.URL, "--token", servertest.Token, "--legacy", "--dry-run"}, exitcode.AlreadyPublished, "already published"},
		{"publish refused", []string{"publish", badPath, "--registry", s.URL, "--token", servertest.Token, "--legacy"}, exitcode.Refused, `manifest declares name "other"`},
		{"publish 403", []string{"publish", badPath, "--registry", s.URL, "--token", "nope"}, exitcode.Auth, "403"},
		{"publish dead port", []string{"publish", badPath, "--registry", dead, "--token", "x"}, exitcode.Unreachable, "connection refused"},
		{"publish usage", []string{"publish", badPath, "--registry", s.URL, "--token", "x", "--format", "xml"}, exitcode.Usage, "--format"},
		{"publish no args", []string{"publish"}, exitcode.Usage, "requires at least 1 arg"},
		{"publish queue missing", []string{"publish", goodPath, "--queue", missing}, exitcode.Unreachable, "does not exist"},
		// yank
		{"yank 403", []string{"yank", "exits", "1.0.0", "--reason", "r", "--registry", s.URL, "--token", "nope"}, exitcode.Auth, "403"},
		{"yank dead port", []string{"yank", "exits", "1.0.0", "--reason", "r", "--registry", dead, "--token", "x"}, exitcode.Unreachable, "connection refused"},
		{"yank usage", []string{"yank", "exits", "1.0.0", "--registry", s.URL, "--token", "x"}, exitcode.Usage, "--reason is required"},
		// audit, verify
		{"audit 403", []string{"audit", "--registry", s.URL, "--token", "nope"}, exitcode.Auth, "403"},
		{"audit dead port", []string{"audit", "--registry", dead, "--token", "x"}, exitcode.Unreachable, "connection refused"},
		{"audit missing bucket", []string{"audit", "--data", missing}, exitcode.Unreachable, "does not exist"},
		{"audit usage", []string{"audit", "--format", "xml"}, exitcode.Usage, "--format"},
		{"verify 403", []string{"verify", goodPath, "--keyring", s.Key.PublicPath, "--registry", s.URL, "--token", "nope"}, exitcode.Auth, "403"},
		{"verify dead port", []string{"verify", goodPath, "--keyring", s.Key.PublicPath, "--registry", dead, "--token", "x"}, exitcode.Unreachable, "connection refused"},
		{"verify refused", []string{"verify", forged, "--keyring", s.Key.PublicPath}, exitcode.Refused, "BAD"},
		// mirror, import, sync-v1
		{"mirror dead upstream", []string{"mirror", "--from", dead, "--keyring", s.Key.PublicPath, "--bundle", filepath.Join(dir, "b")}, exitcode.Unreachable, "search the upstream"},
		{"mirror 403 target", []string{"mirror", "--from", s.URL, "--keyring", s.Key.PublicPath, "--to", target.URL, "--token", "nope"}, exitcode.Auth, "403"},
		{"mirror usage", []string{"mirror", "--keyring", s.Key.PublicPath}, exitcode.Usage, "--from"},
		{"import refused bundle", []string{"import", writeFile(t, filepath.Join(dir, "x.bundle"), []byte("not a tar")), "--registry", s.URL, "--token", servertest.Token}, exitcode.Refused, ""},
		{"sync-v1 403", []string{"sync-v1", v1, "--registry", s.URL, "--token", "nope", "--sign-key", s.Key.PrivatePath}, exitcode.Auth, "403"},
		{"sync-v1 dead port", []string{"sync-v1", v1, "--registry", dead, "--token", "x", "--sign-key", s.Key.PrivatePath}, exitcode.Unreachable, "connection refused"},
		// buckets
		{"index missing bucket", []string{"index", "--data", missing}, exitcode.Unreachable, "does not exist"},
		{"job publish missing bucket", []string{"job", "publish", "--data", missing}, exitcode.Unreachable, "does not exist"},
		{"unknown flag", []string{"yank", "--nope"}, exitcode.Usage, "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := runCLITimeout(t, 60*time.Second, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.out) {
				t.Fatalf("exit %d, output:\n%s\nwant exit %d containing %q", code, out, tt.code, tt.out)
			}
		})
	}
	// PKGSTORE_PUBLISH_TOKEN is a publishing secret: it never silently
	// feeds yank, audit or verify; PKGSTORE_TOKEN serves every command.
	t.Run("publish token not used by yank", func(t *testing.T) {
		t.Setenv("PKGSTORE_PUBLISH_TOKEN", servertest.Token)
		out, code := runCLITimeout(t, 30*time.Second, "yank", "exits", "1.0.0", "--reason", "r", "--registry", s.URL)
		if code != exitcode.Usage || !strings.Contains(out, "PKGSTORE_PUBLISH_TOKEN only serves the publishing commands") {
			t.Fatalf("exit %d, output:\n%s", code, out)
		}
	})
	t.Run("PKGSTORE_TOKEN serves audit", func(t *testing.T) {
		t.Setenv("PKGSTORE_TOKEN", "nope")
		out, code := runCLITimeout(t, 30*time.Second, "audit", "--registry", s.URL)
		if code != exitcode.Auth {
			t.Fatalf("exit %d, output:\n%s", code, out)
		}
	})
}

// TestExitCodeOfTheBinary runs the real binary (the test binary as
// pkgstore, TestMain) so that main's own mapping is what is asserted.
func TestExitCodeOfTheBinary(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	dir := t.TempDir()
	zip := ziptest.Package(t, "bin", "1.0.0")
	zipPath := writeFile(t, filepath.Join(dir, "bin-1.0.0.zip"), zip)
	writeFile(t, zipPath+".sig", s.Key.Sign(t, zip))
	for _, tt := range []struct {
		name string
		args []string
		code int
	}{
		{"403", []string{"publish", zipPath, "--registry", s.URL, "--token", "nope"}, exitcode.Auth},
		{"dead port", []string{"publish", zipPath, "--registry", "http://127.0.0.1:1", "--token", "x"}, exitcode.Unreachable},
		{"usage", []string{"publish", "--no-such-flag"}, exitcode.Usage},
		{"published", []string{"publish", zipPath, "--registry", s.URL, "--token", servertest.Token, "--legacy"}, exitcode.OK},
		{"already published", []string{"publish", zipPath, "--registry", s.URL, "--token", servertest.Token, "--legacy"}, exitcode.AlreadyPublished},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := startChild(t, tt.name, tt.args...)
			if code := c.wait(t, 60*time.Second); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.code, c.stderr.String())
			}
		})
	}
}
