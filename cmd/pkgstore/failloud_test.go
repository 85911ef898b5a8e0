package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/client/exitcode"
	"pkgstore/internal/testkit/sigtest"
)

// runCLITimeout is runCLI for commands that may serve: the context ends
// the command after d (a serve that starts exits 0 then).
func runCLITimeout(t *testing.T, d time.Duration, args ...string) (out string, code int) {
	t.Helper()
	var buf bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	code = run(ctx, root, &buf, &buf)
	return buf.String(), code
}

// TestStoreReadersRefuseMissingFolder is the attack of issue 21 item 10:
// `pkgstore audit --data /nonexistent` created the folders and printed
// "(no records)" with exit 0, and a read-only replica pointed at a wrong
// folder served an empty store. Commands that read a store refuse a
// folder that does not exist, exit 5 (a bucket that cannot be opened)
// with one line naming it, and create nothing.
func TestStoreReadersRefuseMissingFolder(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"audit", []string{"audit"}},
		{"audit json", []string{"audit", "--format", "json"}},
		{"index", []string{"index"}},
		{"serve read-only", []string{"serve", "--read-only", "--addr", "127.0.0.1:0"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			missing := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"), "data")
			out, code := runCLITimeout(t, 10*time.Second, append(tt.args, "--data", missing)...)
			if code != exitcode.Unreachable || !strings.Contains(out, missing) || !strings.Contains(out, "does not exist") {
				t.Errorf("exit %d, output:\n%s\nwant exit 5 naming %s as missing", code, out, missing)
			}
			if strings.Contains(tt.name, "json") {
				// stdout's one JSON document first (stdout and stderr share
				// out here), then stderr's one line.
				var doc struct {
					ExitCode int `json:"exit_code"`
				}
				dec := json.NewDecoder(strings.NewReader(out))
				if err := dec.Decode(&doc); err != nil || doc.ExitCode != exitcode.Unreachable {
					t.Errorf("--format json: no document with exit_code 5 (%v):\n%s", err, out)
				}
				out = out[dec.InputOffset():]
			}
			if lines := strings.Count(strings.TrimSpace(out), "\n") + 1; lines != 1 {
				t.Errorf("%d lines of output, want one:\n%s", lines, out)
			}
			if _, err := os.Stat(filepath.Dir(missing)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s was created (stat: %v)", filepath.Dir(missing), err)
			}
		})
	}
	// A file:// bucket URL is a folder too.
	t.Run("audit file URL", func(t *testing.T) {
		missing := filepath.Join(dir, "url", "internal")
		out, code := runCLITimeout(t, 10*time.Second, "audit", "--data", t.TempDir(), "--internal-bucket", "file://"+missing)
		if code != exitcode.Unreachable || !strings.Contains(out, "does not exist") {
			t.Errorf("exit %d, output:\n%s\nwant exit 5: folder does not exist", code, out)
		}
		if _, err := os.Stat(filepath.Dir(missing)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s was created (stat: %v)", filepath.Dir(missing), err)
		}
	})
	// An existing, empty store still reads as one.
	t.Run("audit existing empty store", func(t *testing.T) {
		data := t.TempDir()
		for _, sub := range []string{"public", "internal"} {
			if err := os.Mkdir(filepath.Join(data, sub), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if out, code := runCLITimeout(t, 10*time.Second, "audit", "--data", data); code != 0 || !strings.Contains(out, "(no records)") {
			t.Errorf("exit %d, output:\n%s", code, out)
		}
	})
}

// TestServeRefusesUnopenableBucket: serve exits 5 at start, with one
// line, when a bucket cannot be opened at all (a scheme no driver knows, a
// --data that is a file); a fresh --data folder is still created (the
// README's first command).
func TestServeRefusesUnopenableBucket(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, filepath.Join(dir, "a-file"), []byte("x"))
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown scheme", []string{"--data", filepath.Join(dir, "d1"), "--public-bucket", "nosuch://bucket"}, "nosuch"},
		{"data is a file", []string{"--data", file}, "a-file: not a directory"},
		{"file URL is a file", []string{"--data", filepath.Join(dir, "d2"), "--internal-bucket", "file://" + file}, "not a folder"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, code := runCLITimeout(t, 10*time.Second, append([]string{"serve", "--addr", "127.0.0.1:0", "--log-level", "error"}, tt.args...)...)
			if code != exitcode.Unreachable || !strings.Contains(out, tt.want) {
				t.Errorf("exit %d, output:\n%s\nwant exit 5 containing %q", code, out, tt.want)
			}
			if lines := strings.Count(strings.TrimSpace(out), "\n") + 1; lines != 1 {
				t.Errorf("%d lines of output, want one:\n%s", lines, out)
			}
		})
	}
	t.Run("fresh data folder is created", func(t *testing.T) {
		data := filepath.Join(dir, "fresh", "data")
		out, code := runCLITimeout(t, 3*time.Second, "serve", "--addr", "127.0.0.1:0", "--log-level", "error", "--data", data)
		if code != 0 {
			t.Fatalf("exit %d, output:\n%s", code, out)
		}
		for _, sub := range []string{"public", "internal"} {
			if fi, err := os.Stat(filepath.Join(data, sub)); err != nil || !fi.IsDir() {
				t.Errorf("%s not created: %v", sub, err)
			}
		}
	})
}

// TestImportWithoutKeyringSaysWhatItSkipped is the attack of issue 21
// item 10: `import` without --keyring checked no signature and said
// nothing. It now says, in one line, what it did not verify, before it
// reads the bundle; with both keyrings it says nothing of the kind. And
// item 9: --keyring (package keys) alone is refused, naming
// --bundle-keyring, since a package key never vouches for a bundle.
func TestImportWithoutKeyringSaysWhatItSkipped(t *testing.T) {
	key := sigtest.NewKey(t, "operator")
	dir := t.TempDir()
	notBundle := writeFile(t, filepath.Join(dir, "x.bundle"), []byte("not a tar"))
	const want = "import: no --bundle-keyring or --keyring: not verified here: the bundle manifest's signature (who made the bundle) and each package's signature"
	// The store is unreachable: the line comes before anything else.
	_, stderr, code := runCLI(t, "import", notBundle, "--registry", "http://127.0.0.1:1", "--token", "t")
	if code != 1 || strings.Count(stderr, want) != 1 || !strings.Contains(stderr, "the store verifies each package's signature against its own keyring") {
		t.Errorf("without keyrings: exit %d, stderr:\n%s\nwant one line %q…", code, stderr, want)
	}
	_, stderr, code = runCLI(t, "import", notBundle, "--registry", "http://127.0.0.1:1", "--token", "t", "--bundle-keyring", key.PublicPath)
	const wantPkg = "import: no --keyring: not verified here: each package's signature; checked: the bundle manifest's signature (--bundle-keyring)"
	if code != 1 || strings.Count(stderr, wantPkg) != 1 || strings.Contains(stderr, want) {
		t.Errorf("with --bundle-keyring alone: exit %d, stderr:\n%s\nwant one line %q…", code, stderr, wantPkg)
	}
	_, stderr, code = runCLI(t, "import", notBundle, "--registry", "http://127.0.0.1:1", "--token", "t", "--keyring", key.PublicPath)
	if code != 2 || !strings.Contains(stderr, "--keyring verifies package signatures only") || !strings.Contains(stderr, "--bundle-keyring FILE") {
		t.Errorf("with --keyring alone: exit %d, stderr:\n%s\nwant a usage error naming --bundle-keyring", code, stderr)
	}
	_, stderr, _ = runCLI(t, "import", notBundle, "--registry", "http://127.0.0.1:1", "--token", "t", "--keyring", key.PublicPath, "--bundle-keyring", key.PublicPath)
	if strings.Contains(stderr, "not verified here") {
		t.Errorf("with both keyrings: stderr:\n%s", stderr)
	}
}
