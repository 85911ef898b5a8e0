package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"pkgstore/internal/client/exitcode"
	"pkgstore/internal/govern/tokens"
	"pkgstore/internal/server"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/ziptest"
)

// TestFormatJSON is issue 26's "every command's --format json output
// parses": each command prints one JSON document on stdout, and nothing
// else there (progress lines go to stderr); the document holds what the
// text said. Mirroring into a bundle says "downloaded", never "published".
func TestFormatJSON(t *testing.T) {
	t.Setenv("PKGSTORE_TOKEN", "")
	t.Setenv("PKGSTORE_PUBLISH_TOKEN", "")
	ops, err := tokens.New("ops", "ops-secret-0123456789", []tokens.Scope{tokens.ScopeAdmin}, []string{"*"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := ops.YAML()
	if err != nil {
		t.Fatal(err)
	}
	tf := writeFile(t, filepath.Join(t.TempDir(), "tokens.yml"), []byte("tokens:\n"+entry))
	s := servertest.Start(t, servertest.Options{Configure: func(c *server.Config) { c.TokensFile = tf }})
	target := servertest.Start(t, servertest.Options{Memory: true, Key: s.Key})
	dir := t.TempDir()
	zip := ziptest.Package(t, "jsonpkg", "1.0.0")
	zipPath := writeFile(t, filepath.Join(dir, "jsonpkg-1.0.0.zip"), zip)
	writeFile(t, zipPath+".sig", s.Key.Sign(t, zip))
	reg := []string{"--registry", s.URL, "--token", servertest.Token}
	admin := []string{"--registry", s.URL, "--token", "ops-secret-0123456789"}
	bundle := filepath.Join(dir, "b.bundle")
	hello := filepath.Join("..", "..", "examples", "hello")

	type doc = map[string]any
	tests := []struct {
		name  string
		args  []string
		code  int
		check func(t *testing.T, d any)
	}{
		{"publish", append([]string{"publish", zipPath, "--legacy", "--format", "json"}, reg...), 0, func(t *testing.T, d any) {
			r := d.(doc)["results"].([]any)[0].(doc)
			if r["outcome"] != "published" || r["package"] != "jsonpkg-1.0.0" {
				t.Errorf("result %v", r)
			}
		}},
		{"verify", append([]string{"verify", zipPath, "--keyring", s.Key.PublicPath, "--format", "json"}, admin...), 0, func(t *testing.T, d any) {
			m := d.(doc)
			if m["good"] != true || m["fingerprint"] != s.Key.Fingerprint || m["matches_published"] != true || m["published"] == nil {
				t.Errorf("verify %v", m)
			}
		}},
		{"yank", append([]string{"yank", "jsonpkg", "1.0.0", "--reason", "test", "--format", "json"}, admin...), 0, func(t *testing.T, d any) {
			m := d.(doc)
			if m["package"] != "jsonpkg" || m["changed"] != true || m["state"].(doc)["yanked"] != true {
				t.Errorf("yank %v", m)
			}
		}},
		{"unyank", append([]string{"unyank", "jsonpkg", "1.0.0", "--format", "json"}, admin...), 0, func(t *testing.T, d any) {
			if m := d.(doc); m["changed"] != true {
				t.Errorf("unyank %v", m)
			}
		}},
		{"audit", append([]string{"audit", "--package", "jsonpkg", "--format", "json"}, admin...), 0, func(t *testing.T, d any) {
			if len(d.([]any)) == 0 {
				t.Error("no audit records")
			}
		}},
		{"mirror to a bundle", []string{"mirror", "--from", s.URL, "--keyring", s.Key.PublicPath, "--bundle", bundle, "--format", "json"}, 0, func(t *testing.T, d any) {
			m := d.(doc)
			if m["downloaded"] != 1.0 || m["published"] != 0.0 || m["bundle"] != bundle || m["exit_code"] != 0.0 {
				t.Errorf("mirror %v", m)
			}
		}},
		{"import", []string{"import", bundle, "--registry", target.URL, "--token", servertest.Token, "--format", "json"}, 0, func(t *testing.T, d any) {
			if m := d.(doc); m["published"] != 1.0 || m["command"] != "import" {
				t.Errorf("import %v", m)
			}
		}},
		{"sync-v1 refused", []string{"sync-v1", v1Tree(t, map[string]string{"delta/1.0.0/manifest.yml": v1Manifest("delta", "1.0.0")}), "--registry", s.URL, "--token", "nope", "--format", "json"}, exitcode.Auth, func(t *testing.T, d any) {
			m := d.(doc)
			if m["exit_code"] != 4.0 || !strings.Contains(m["error"].(string), "403") {
				t.Errorf("sync-v1 %v", m)
			}
		}},
		{"build", []string{"build", hello, "-o", filepath.Join(dir, "out"), "--format", "json", "--ecs-base-url", "file:///nonexistent"}, 0, func(t *testing.T, d any) {
			if m := d.(doc); !strings.HasSuffix(m["path"].(string), "hello-1.0.0.zip") || len(m["sha256"].(string)) != 64 {
				t.Errorf("build %v", m)
			}
		}},
		{"validate", []string{"validate", hello, "--format", "json"}, 0, func(t *testing.T, d any) {}},
		{"token create", []string{"token", "create", "x", "--scope", "audit", "--package", "*", "--format", "json"}, 0, func(t *testing.T, d any) {
			if m := d.(doc); m["secret"] == nil || m["token"].(doc)["name"] != "x" {
				t.Errorf("token %v", m)
			}
		}},
		// Failures before a command's own document still give one on
		// stdout, with the exit code a script branches on.
		{"yank refused", []string{"yank", "jsonpkg", "1.0.0", "--reason", "x", "--registry", s.URL, "--token", "nope", "--format", "json"}, exitcode.Auth, failedDoc("yank", exitcode.Auth, "403")},
		{"unyank unreachable", []string{"unyank", "jsonpkg", "1.0.0", "--registry", "http://127.0.0.1:1", "--token", "t", "--format", "json"}, exitcode.Unreachable, failedDoc("unyank", exitcode.Unreachable, "127.0.0.1:1")},
		{"audit refused", []string{"audit", "--registry", s.URL, "--token", "nope", "--format", "json"}, exitcode.Auth, failedDoc("audit", exitcode.Auth, "403")},
		{"token revoke unknown", []string{"token", "revoke", "nobody", "--tokens-file", tf, "--format", "json"}, exitcode.Refused, failedDoc("token revoke", exitcode.Refused, "nobody")},
		{"token list missing file", []string{"token", "list", "--tokens-file", filepath.Join(dir, "absent.yml"), "--format", "json"}, exitcode.Usage, failedDoc("token list", exitcode.Usage, "absent.yml")},
		{"verify bad signature", []string{"verify", zipPath, "--keyring", sigtest.NewKey(t, "other").PublicPath, "--format", "json"}, exitcode.Refused, func(t *testing.T, d any) {
			if m := d.(doc); m["good"] != false || m["exit_code"] != float64(exitcode.Refused) {
				t.Errorf("verify %v", m)
			}
		}},
		{"usage mistake", []string{"yank", "jsonpkg", "--format", "json"}, exitcode.Usage, failedDoc("yank", exitcode.Usage, "arg")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, tt.args...)
			var d any
			dec := json.NewDecoder(strings.NewReader(stdout))
			if err := dec.Decode(&d); err != nil || dec.More() {
				t.Fatalf("exit %d, stdout is not one JSON document (%v):\n%s\nstderr:\n%s", code, err, stdout, stderr)
			}
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			tt.check(t, d)
			if strings.Contains(tt.name, "bundle") && (strings.Contains(stderr, "published jsonpkg") || !strings.Contains(stderr, "downloaded jsonpkg-1.0.0")) {
				t.Errorf("a bundle run's lines must say downloaded, not published:\n%s", stderr)
			}
		})
	}
}

// failedDoc checks the document of a command that failed before it wrote
// its own: the command's name, its exit code and an error naming the cause.
func failedDoc(command string, code int, cause string) func(t *testing.T, d any) {
	return func(t *testing.T, d any) {
		t.Helper()
		m, _ := d.(map[string]any)
		if m["command"] != command || m["exit_code"] != float64(code) {
			t.Errorf("document %v: want command %q, exit_code %d", d, command, code)
		}
		if e, _ := m["error"].(string); !strings.Contains(e, cause) {
			t.Errorf("error %q does not name %q", e, cause)
		}
	}
}
