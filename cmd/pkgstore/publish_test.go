package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pkgstore/internal/client/exitcode"
	"pkgstore/internal/server"
	"pkgstore/internal/testkit/gpgtest"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/ziptest"
)

func TestPublishCommandExitCodes(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	dir := t.TempDir()
	write := func(name string, data []byte) string { return writeFile(t, filepath.Join(dir, name), data) }
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
		{"unsigned refused", append([]string{"publish", unsigned, "--unsigned"}, common...), 1, "signatures are required"},
		{"no signature file", append([]string{"publish", unsigned}, common...), 2, "neither " + unsigned + ".sig nor " + unsigned + ".asc exists"},
		{"unsigned and signature", append([]string{"publish", unsigned, "--unsigned", "--signature", unsigned + ".sig"}, common...), 2, "contradict"},
		{"dry run", append([]string{"publish", dryPath, "--dry-run"}, common...), 0, "dry run passed"},
		{"wrong token", []string{"publish", dryPath, "--registry", s.URL, "--token", "nope"}, 4, "403"},
		{"no token", []string{"publish", dryPath, "--registry", s.URL}, 2, "no token"},
		{"bad file name", append([]string{"publish", write("notapackage.zip", good)}, common...), 2, "NAME-VERSION.zip"},
		{"unreachable registry", []string{"publish", dryPath, "--registry", "http://127.0.0.1:1", "--token", "x"}, 5, "connect"},
		{"missing file", append([]string{"publish", filepath.Join(dir, "cli-9.0.0.zip")}, common...), 2, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "no token" {
				t.Setenv("PKGSTORE_PUBLISH_TOKEN", "")
				t.Setenv("PKGSTORE_TOKEN", "")
			}
			stdout, stderr, code := runCLI(t, tt.args...)
			out := stdout + stderr
			if code != tt.code || !strings.Contains(out, tt.out) {
				t.Fatalf("exit %d, output:\n%s\nwant exit %d containing %q", code, out, tt.code, tt.out)
			}
		})
	}
}

// TestPublishSignatureFiles checks where publish finds a zip's signature:
// FILE.zip.sig, FILE.zip.asc (what gpg --armor --detach-sign writes, made
// here by real gpg), --signature overriding both, and clear refusals.
func TestPublishSignatureFiles(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	dir := t.TempDir()
	write := func(name string, data []byte) string { return writeFile(t, filepath.Join(dir, name), data) }
	common := []string{"--registry", s.URL, "--token", servertest.Token, "--legacy"}
	pkg := func(version string) (string, []byte) {
		b := ziptest.Package(t, "sigs", version)
		return write("sigs-"+version+".zip", b), b
	}

	sigOnly, b1 := pkg("1.0.0")
	write("sigs-1.0.0.zip.sig", s.Key.Sign(t, b1))

	ascOnly, b2 := pkg("2.0.0")
	write("sigs-2.0.0.zip.asc", s.Key.Sign(t, b2))

	bothSame, b3 := pkg("3.0.0")
	write("sigs-3.0.0.zip.sig", s.Key.Sign(t, b3))
	copyFile(t, bothSame+".sig", bothSame+".asc")

	bothDiffer, b4 := pkg("4.0.0")
	write("sigs-4.0.0.zip.sig", s.Key.Sign(t, b4))
	write("sigs-4.0.0.zip.asc", s.Key.Sign(t, b4)) // a second signature: other bytes

	override, b5 := pkg("5.0.0")
	write("sigs-5.0.0.zip.sig", []byte("not a signature"))
	good5 := write("elsewhere.asc", s.Key.Sign(t, b5))

	wrongSig, _ := pkg("6.0.0")
	write("sigs-6.0.0.zip.asc", s.Key.Sign(t, b1)) // signs other bytes

	dirSig, _ := pkg("7.0.0")
	if err := os.Mkdir(dirSig+".sig", 0o755); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{".sig", []string{"publish", sigOnly}, 0, "published sigs-1.0.0"},
		{".asc", []string{"publish", ascOnly}, 0, "published sigs-2.0.0"},
		{"both, same bytes", []string{"publish", bothSame}, 0, "published sigs-3.0.0"},
		{"both, different bytes", []string{"publish", bothDiffer}, 2, "exist and differ"},
		{"--signature overrides", []string{"publish", override, "--signature", good5}, 0, "published sigs-5.0.0"},
		{"--signature missing", []string{"publish", override, "--signature", filepath.Join(dir, "nope.asc")}, 2, "nope.asc"},
		{".asc of other bytes refused", []string{"publish", wrongSig}, 1, "signature"},
		{"signature path is a folder", []string{"publish", dirSig}, 2, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, append(tt.args, common...)...)
			out := stdout + stderr
			if code != tt.code || !strings.Contains(out, tt.out) {
				t.Fatalf("exit %d, output:\n%s\nwant exit %d containing %q", code, out, tt.code, tt.out)
			}
		})
	}

	// What a newcomer does: gpg --armor --detach-sign writes FILE.zip.asc.
	t.Run("gpg --armor --detach-sign", func(t *testing.T) {
		g := gpgtest.New(t)
		g.GenKey("owner@example.com", "ed25519", "")
		pub := write("owner.asc", []byte(g.Must("--armor", "--export", "owner@example.com")))
		st := servertest.Start(t, servertest.Options{Configure: func(c *server.Config) { c.Keyrings = []string{pub} }})
		zipPath, _ := pkg("8.0.0")
		g.Must("--armor", "--detach-sign", zipPath)
		if _, err := os.Stat(zipPath + ".asc"); err != nil {
			t.Fatalf("gpg wrote no .asc: %v", err)
		}
		stdout, stderr, code := runCLI(t, "publish", zipPath, "--registry", st.URL, "--token", servertest.Token, "--legacy")
		if code != 0 || !strings.Contains(stdout, "published sigs-8.0.0") {
			t.Fatalf("exit %d:\n%s%s", code, stdout, stderr)
		}
	})
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPublishSeveralZips is issue 26's `publish out/*.zip`: one outcome per
// file, in order, every file tried whatever the others did, and the exit
// code of the worst outcome (refused beats already published); with
// --format json one document on stdout that parses.
func TestPublishSeveralZips(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	dir := t.TempDir()
	zipOf := func(version, manifestName string) string {
		var b []byte
		if manifestName == "" {
			b = ziptest.Package(t, "many", version)
		} else {
			b = ziptest.Build(t, ziptest.Entry{Name: "many-" + version + "/manifest.yml", Body: ziptest.Manifest(manifestName, version)})
		}
		p := writeFile(t, filepath.Join(dir, "many-"+version+".zip"), b)
		writeFile(t, p+".sig", s.Key.Sign(t, b))
		return p
	}
	first, refused, second := zipOf("1.0.0", ""), zipOf("2.0.0", "other"), zipOf("3.0.0", "")
	common := []string{"--registry", s.URL, "--token", servertest.Token, "--legacy"}
	if _, _, code := runCLI(t, append([]string{"publish", first}, common...)...); code != 0 {
		t.Fatalf("first publish: exit %d", code)
	}
	stdout, stderr, code := runCLI(t, append([]string{"publish", first, refused, second}, common...)...)
	if code != exitcode.Refused {
		t.Errorf("exit %d, want %d (refused is worse than already published)", code, exitcode.Refused)
	}
	for _, want := range []string{"refused many-2.0.0", `manifest declares name "other"`, "published many-3.0.0"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	for _, want := range []string{first + ": many-1.0.0 is already published", "2 of 3 file(s) not published"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}

	// JSON: the same outcomes as data; only JSON on stdout.
	fourth := zipOf("4.0.0", "")
	stdout, _, code = runCLI(t, append([]string{"publish", "--format", "json", second, fourth, filepath.Join(dir, "many-9.0.0.zip")}, common...)...)
	var rep publishReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, stdout)
	}
	if code != exitcode.Usage || rep.ExitCode != code || len(rep.Results) != 3 {
		t.Fatalf("exit %d, report %+v", code, rep)
	}
	want := []struct {
		outcome string
		code    int
	}{{"already_published", exitcode.AlreadyPublished}, {"published", exitcode.OK}, {"error", exitcode.Usage}}
	for i, w := range want {
		r := rep.Results[i]
		if r.Outcome != w.outcome || r.ExitCode != w.code {
			t.Errorf("result %d: %+v, want outcome %s exit %d", i, r, w.outcome, w.code)
		}
	}
	if rep.Results[1].Submission == "" || len(rep.Results[1].SHA256) != 64 || !strings.Contains(rep.Results[2].Error, "no such file") {
		t.Errorf("results lack their details: %+v", rep.Results)
	}
}
