package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/client/exitcode"
	"pkgstore/internal/server"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/ziptest"
)

// TestLogCommands: log keygen makes the keys serve --log-key and the
// clients take; verify, log monitor, mirror and import prove revisions
// against the log, and refuse bytes or keys it does not vouch for.
func TestLogCommands(t *testing.T) {
	dir := t.TempDir()
	out, _, code := runCLI(t, "log", "keygen", "store.test")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "PRIVATE+KEY+store.test+") || !strings.HasPrefix(lines[1], "store.test+") {
		t.Fatalf("keygen: %d %q", code, out)
	}
	skeyFile := writeFile(t, filepath.Join(dir, "log.key"), []byte(lines[0]+"\n"))
	vkey := lines[1]
	otherOut, _, _ := runCLI(t, "log", "keygen", "store.test")
	otherV := strings.Split(strings.TrimSpace(otherOut), "\n")[1]
	if _, _, code := runCLI(t, "log", "keygen", "bad name"); code != exitcode.Usage {
		t.Errorf("keygen with a space: exit %d", code)
	}

	s := servertest.Start(t, servertest.Options{Configure: func(c *server.Config) { c.LogKey = skeyFile }})
	zip := ziptest.Package(t, "logged", "1.0.0")
	if sub := s.Publish(t, "logged-1.0.0.zip", zip, client.Options{Legacy: true}); sub.Status != api.StatusPublished {
		t.Fatalf("publish: %s %+v", sub.Status, sub.Reasons)
	}
	s.WaitVisible(t, "logged", "1.0.0") // mirror selects through /search
	file := writeFile(t, filepath.Join(dir, "logged-1.0.0.zip"), zip)
	if out, errOut, code := runCLI(t, "verify", file, "--registry", s.URL, "--log-key", vkey); code != 0 || !strings.Contains(out, "in the transparency log as record 0") {
		t.Fatalf("verify: %d %s %s", code, out, errOut)
	}
	otherDir := t.TempDir()
	altered := writeFile(t, filepath.Join(otherDir, "logged-1.0.0.zip"), append(zip[:len(zip):len(zip)], 0))
	if _, errOut, code := runCLI(t, "verify", altered, "--registry", s.URL, "--log-key", vkey); code != exitcode.Refused || !strings.Contains(errOut, "the log records sha256") {
		t.Fatalf("verify altered: %d %s", code, errOut)
	}
	vfile := writeFile(t, filepath.Join(dir, "other.vkey"), []byte(otherV+"\n"))
	if _, errOut, code := runCLI(t, "verify", file, "--registry", s.URL, "--log-key", vfile); code != exitcode.Refused || !strings.Contains(errOut, "signed tree head") {
		t.Fatalf("verify with another log's key: %d %s", code, errOut)
	}
	if _, _, code := runCLI(t, "verify", file, "--log-key", vkey); code != exitcode.Usage {
		t.Fatalf("verify --log-key without --registry: %d", code)
	}

	state := filepath.Join(dir, "state")
	if out, errOut, code := runCLI(t, "log", "monitor", "--registry", s.URL, "--log-key", vkey, "--state", state); code != 0 || !strings.Contains(out, "ok: tree of size 1") {
		t.Fatalf("monitor: %d %s %s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(state, "head")); err != nil {
		t.Fatal(err)
	}
	if _, _, code := runCLI(t, "log", "monitor", "--registry", s.URL, "--log-key", vkey); code != exitcode.Usage {
		t.Fatalf("monitor without --state: %d", code)
	}
	if _, _, code := runCLI(t, "log", "monitor", "--registry", "http://127.0.0.1:1", "--log-key", vkey, "--state", state); code != exitcode.Unreachable {
		t.Fatalf("monitor of a dead store: %d", code)
	}

	// mirror checks the upstream's log; import the target's.
	bundle := filepath.Join(dir, "b.zip")
	if out, errOut, code := runCLI(t, "mirror", "--from", s.URL, "--keyring", s.Key.PublicPath, "--bundle", bundle, "--log-key", vkey); code != 0 {
		t.Fatalf("mirror with the log key: %d %s %s", code, out, errOut)
	}
	if out, _, code := runCLI(t, "mirror", "--from", s.URL, "--keyring", s.Key.PublicPath, "--bundle", filepath.Join(dir, "c.zip"), "--log-key", otherV); code != exitcode.Refused || !strings.Contains(out, "signed tree head") {
		t.Fatalf("mirror with another log's key: %d %s", code, out)
	}
	target := servertest.Start(t, servertest.Options{Key: s.Key, Configure: func(c *server.Config) { c.LogKey = skeyFile }})
	if out, errOut, code := runCLI(t, "import", bundle, "--registry", target.URL, "--token", servertest.Token, "--log-key", vkey); code != 0 {
		t.Fatalf("import with the log key: %d %s %s", code, out, errOut)
	}
	// A target without a log cannot prove what it holds.
	bare := servertest.Start(t, servertest.Options{Key: s.Key})
	if out, _, code := runCLI(t, "import", bundle, "--registry", bare.URL, "--token", servertest.Token, "--log-key", vkey); code != exitcode.Refused || !strings.Contains(out, "transparency log") {
		t.Fatalf("import into a store without a log: %d %s", code, out)
	}
}
