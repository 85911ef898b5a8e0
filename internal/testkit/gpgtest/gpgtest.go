// Package gpgtest drives the real GnuPG binary from tests: a throw-away
// GNUPGHOME, key generation, export, signing and verification. Tests skip
// (with the reason) when gpg is not installed.
package gpgtest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Home is a temporary GnuPG home; its agent is stopped and the folder
// removed when the test ends.
type Home struct {
	tb   testing.TB
	bin  string
	Dir  string
	conf string // gpgconf, to stop the agent
}

// New returns a fresh home, or skips tb when gpg is absent.
func New(tb testing.TB) *Home {
	tb.Helper()
	bin, err := exec.LookPath("gpg")
	if err != nil {
		tb.Skip("gpg not installed (apt-get install gnupg): GnuPG interop not tested")
	}
	// A short path: gpg-agent's socket path must fit in sun_path.
	dir, err := os.MkdirTemp("", "gpg")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	h := &Home{tb: tb, bin: bin, Dir: dir}
	h.conf, _ = exec.LookPath("gpgconf")
	tb.Cleanup(func() {
		if h.conf != "" {
			cmd := exec.Command(h.conf, "--kill", "all")
			cmd.Env = append(os.Environ(), "GNUPGHOME="+dir)
			_ = cmd.Run()
		}
		os.RemoveAll(dir)
	})
	return h
}

// Run runs gpg in batch mode on this home and returns its combined output.
func (h *Home) Run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	full := append([]string{"--homedir", h.Dir, "--batch", "--no-tty", "--pinentry-mode", "loopback"}, args...)
	cmd := exec.CommandContext(ctx, h.bin, full...)
	cmd.Env = append(os.Environ(), "GNUPGHOME="+h.Dir)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Must is Run, failing the test on error.
func (h *Home) Must(args ...string) string {
	h.tb.Helper()
	out, err := h.Run(args...)
	if err != nil {
		h.tb.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// GenKey makes a signing key (algo as for --quick-gen-key: "ed25519",
// "rsa2048", ...) and returns its fingerprint.
func (h *Home) GenKey(uid, algo, passphrase string) string {
	h.tb.Helper()
	h.Must("--passphrase", passphrase, "--quick-gen-key", uid, algo, "sign", "never")
	out := h.Must("--with-colons", "--fingerprint", uid)
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Split(line, ":"); len(f) > 9 && f[0] == "fpr" {
			return f[9]
		}
	}
	h.tb.Fatalf("no fingerprint for %s in\n%s", uid, out)
	return ""
}

// Import adds the keys in file (armored or binary) to the home.
func (h *Home) Import(file string) {
	h.tb.Helper()
	h.Must("--import", file)
}

// Verify runs gpg --verify on a detached signature and returns the
// fingerprint of the key that made it (from VALIDSIG), or an error with
// gpg's output.
func (h *Home) Verify(sigFile, dataFile string) (string, error) {
	out, err := h.Run("--status-fd", "1", "--verify", sigFile, dataFile)
	if err != nil {
		return "", &VerifyError{Output: out, Err: err}
	}
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "[GNUPG:] VALIDSIG "); ok {
			return strings.Fields(rest)[0], nil
		}
	}
	return "", &VerifyError{Output: out}
}

// VerifyError is a failed gpg --verify.
type VerifyError struct {
	Output string
	Err    error
}

func (e *VerifyError) Error() string {
	if e.Err != nil {
		return "gpg --verify: " + e.Err.Error() + "\n" + e.Output
	}
	return "gpg --verify: no VALIDSIG\n" + e.Output
}
