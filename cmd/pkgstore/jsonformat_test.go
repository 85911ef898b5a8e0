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
