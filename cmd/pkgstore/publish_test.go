package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pkgstore/internal/archive/ziptest"
	"pkgstore/internal/server/servertest"
)

func TestPublishCommandExitCodes(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := ziptest.Package(t, "cli", "1.0.0")
	goodPath := write("cli-1.0.0.zip", good)
	write("cli-1.0.0.zip.sig", s.Key.Sign(t, good))
	bad := ziptest.Build(t, ziptest.Entry{Name: "cli-2.0.0/manifest.yml", Body: ziptest.Manifest("other", "2.0.0")})
	badPath := write("cli-2.0.0.zip", bad)
	write("cli-2.0.0.zip.sig", s.Key.Sign(t, bad))
	unsigned := write("cli-3.0.0.zip", ziptest.Package(t, "cli", "3.0.0"))
	dry := ziptest.Package(t, "cli", "4.0.0")
	dryPath := write("cli-4.0.0.zip", dry)
	write("cli-4.0.0.zip.sig", s.Key.Sign(t, dry))

	common := []string{"--registry", s.URL, "--token", servertest.Token, "--legacy"}
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"published", append([]string{"publish", goodPath}, common...), 0, "published cli-1.0.0"},
		{"already published", append([]string{"publish", goodPath}, common...), 3, "already published"},
		{"refused with reasons", append([]string{"publish", badPath}, common...), 1, `manifest: cli-2.0.0.zip: cli-2.0.0/manifest.yml: manifest declares name "other"`},
		{"unsigned refused", append([]string{"publish", unsigned}, common...), 1, "signatures are required"},
		{"dry run", append([]string{"publish", dryPath, "--dry-run"}, common...), 0, "dry run passed"},
		{"wrong token", []string{"publish", dryPath, "--registry", s.URL, "--token", "nope"}, 2, "403"},
		{"no token", []string{"publish", dryPath, "--registry", s.URL}, 2, "no token"},
		{"bad file name", append([]string{"publish", write("notapackage.zip", good)}, common...), 2, "NAME-VERSION.zip"},
		{"unreachable registry", []string{"publish", dryPath, "--registry", "http://127.0.0.1:1", "--token", "x"}, 2, "connect"},
		{"missing file", append([]string{"publish", filepath.Join(dir, "cli-9.0.0.zip")}, common...), 2, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "no token" {
				t.Setenv("PKGSTORE_PUBLISH_TOKEN", "")
			}
			stdout, stderr, code := runCLI(t, tt.args...)
			out := stdout + stderr
			if code != tt.code || !strings.Contains(out, tt.out) {
				t.Fatalf("exit %d, output:\n%s\nwant exit %d containing %q", code, out, tt.code, tt.out)
			}
		})
	}
}
