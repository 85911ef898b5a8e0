package main

import (
	"path/filepath"
	"strings"
	"testing"

	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
)

func TestMirrorAndImportCommandErrors(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	s := servertest.Start(t, servertest.Options{Key: key})
	dir := t.TempDir()
	notBundle := writeFile(t, filepath.Join(dir, "x.bundle"), []byte("not a tar"))
	kr := key.PublicPath
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"no from", []string{"mirror", "--bundle", "b", "--keyring", kr}, 2, "--from URL is required"},
		{"no output", []string{"mirror", "--from", s.URL, "--keyring", kr}, 2, "give one of --to URL and --bundle FILE"},
		{"both outputs", []string{"mirror", "--from", s.URL, "--keyring", kr, "--bundle", "b", "--to", s.URL, "--token", "t"}, 2, "give one of"},
		{"no keyring", []string{"mirror", "--from", s.URL, "--bundle", "b"}, 2, "--keyring is required"},
		{"bad glob", []string{"mirror", "--from", s.URL, "--keyring", kr, "--bundle", "b", "--package", "a["}, 2, `--package "a["`},
		{"latest zero", []string{"mirror", "--from", s.URL, "--keyring", kr, "--bundle", "b", "--latest", "0"}, 2, "--latest must be at least 1"},
		{"latest and all", []string{"mirror", "--from", s.URL, "--keyring", kr, "--bundle", "b", "--latest", "3", "--all-versions"}, 2, "exclude each other"},
		{"sign key without bundle", []string{"mirror", "--from", s.URL, "--keyring", kr, "--to", s.URL, "--token", "t", "--sign-key", key.PrivatePath}, 2, "needs --bundle"},
		{"unreachable upstream", []string{"mirror", "--from", "http://127.0.0.1:1", "--keyring", kr, "--bundle", filepath.Join(dir, "b")}, 5, "search the upstream"},
		{"empty selection", []string{"mirror", "--from", s.URL, "--keyring", kr, "--bundle", filepath.Join(dir, "empty.bundle")}, 0, "selected:        0"},
		{"import not a bundle", []string{"import", notBundle, "--registry", s.URL, "--token", servertest.Token}, 1, "not a bundle"},
		{"import missing file", []string{"import", filepath.Join(dir, "none"), "--registry", s.URL, "--token", servertest.Token}, 1, "no such file"},
		{"import no registry", []string{"import", notBundle, "--token", "t"}, 2, "--registry URL is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, tt.args...)
			if out := stdout + stderr; code != tt.code || !strings.Contains(out, tt.out) {
				t.Fatalf("exit %d, output:\n%s\nwant exit %d containing %q", code, out, tt.code, tt.out)
			}
		})
	}
}
