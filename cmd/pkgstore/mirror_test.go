package main

import (
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"pkgstore/internal/client"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/ziptest"
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
		{"since without bundle", []string{"mirror", "--from", s.URL, "--keyring", kr, "--to", s.URL, "--token", "t", "--since", notBundle}, 2, "--since makes an incremental bundle: it needs --bundle"},
		{"plain-http without oci", []string{"mirror", "--from", s.URL, "--keyring", kr, "--bundle", "b", "--plain-http"}, 2, "--plain-http is for --to oci://"},
		{"oci without host", []string{"mirror", "--from", s.URL, "--keyring", kr, "--to", "oci://packages:v1"}, 2, "want oci://HOST[:PORT]/REPO:TAG"},
		{"import oci without host", []string{"import", "oci://packages:v1", "--registry", s.URL, "--token", "t"}, 2, "want oci://HOST[:PORT]/REPO:TAG"},
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

// TestMirrorImportOCIAndChainCommands: the commands' wiring of mirror --to
// oci:// and import oci:// (a registry on loopback, --plain-http), and of
// mirror --since and import of a chain given in order.
func TestMirrorImportOCIAndChainCommands(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no credentials: anonymous
	key := sigtest.NewKey(t, "upstream")
	op := sigtest.NewKey(t, "operator")
	up := servertest.Start(t, servertest.Options{Key: key})
	publish := func(name, version string) {
		if sub := up.Publish(t, name+"-"+version+".zip", ziptest.Package(t, name, version), client.Options{Legacy: true}); sub.Status != "published" {
			t.Fatalf("publish: %+v", sub)
		}
		up.WaitVisible(t, name, version)
	}
	publish("cmdoci", "1.0.0")
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	ref := "oci://" + strings.TrimPrefix(srv.URL, "http://") + "/site/packages:v1"
	dir := t.TempDir()
	run := func(want string, args ...string) {
		t.Helper()
		stdout, stderr, code := runCLI(t, args...)
		if code != 0 || !strings.Contains(stdout, want) {
			t.Fatalf("%v: exit %d\n%s%s\nwant %q", args, code, stdout, stderr, want)
		}
	}
	run("pushed "+ref+": 5 blobs uploaded, 0 already in the registry", "mirror", "--from", up.URL, "--keyring", key.PublicPath, "--sign-key", op.PrivatePath, "--to", ref, "--plain-http")
	site := servertest.Start(t, servertest.Options{Key: key})
	run("published:       1", "import", ref, "--plain-http", "--registry", site.URL, "--token", servertest.Token, "--bundle-keyring", op.PublicPath, "--keyring", key.PublicPath)
	site.WaitVisible(t, "cmdoci", "1.0.0")

	b1, b2 := filepath.Join(dir, "day1.bundle"), filepath.Join(dir, "day2.bundle")
	run("downloaded:      1", "mirror", "--from", up.URL, "--keyring", key.PublicPath, "--bundle", b1)
	publish("cmdoci", "2.0.0")
	run("downloaded:      1", "mirror", "--from", up.URL, "--keyring", key.PublicPath, "--bundle", b2, "--since", b1, "--all-versions")
	chain := servertest.Start(t, servertest.Options{Key: key})
	run("import "+b2+" summary", "import", b1, b2, "--registry", chain.URL, "--token", servertest.Token)
	chain.WaitVisible(t, "cmdoci", "2.0.0")
	// The other way round: refused, exit 1, naming what is missing.
	other := servertest.Start(t, servertest.Options{Key: key})
	stdout, stderr, code := runCLI(t, "import", b2, b1, "--registry", other.URL, "--token", servertest.Token)
	if code != 1 || !strings.Contains(stdout+stderr, "the store lacks 1 revision(s) of the bundles before it (cmdoci-1.0.0)") {
		t.Fatalf("chain out of order: exit %d\n%s%s", code, stdout, stderr)
	}
}
