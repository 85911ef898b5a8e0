package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pkgstore/internal/testkit/gpgtest"
	"pkgstore/internal/testkit/sigtest"
)

// runCLI runs pkgstore in-process and returns its output and exit code.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	code = run(context.Background(), root, &out, &errOut)
	return out.String(), errOut.String(), code
}

// runCLIWant runs pkgstore, fails t unless it exits with code, reports
// each of wants its output (stdout and stderr) lacks, and returns stdout
// and the whole output.
func runCLIWant(t *testing.T, args []string, code int, wants []string) (stdout, out string) {
	t.Helper()
	stdout, stderr, got := runCLI(t, args...)
	out = stdout + stderr
	if got != code {
		t.Fatalf("exit %d, want %d; output:\n%s", got, code, out)
	}
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	return stdout, out
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// payload is some bytes to sign, large enough to span several buffers.
func payload() []byte {
	return bytes.Repeat([]byte("PK\x03\x04 package bytes \x00\xff\n"), 50000)
}

// TestGnuPGSignsWeVerify: detached armored signatures made by gpg (RSA and
// Ed25519 keys, gpg's default digest and SHA-512) verify with pkgstore
// verify; a key outside the keyring and altered bytes are refused.
func TestGnuPGSignsWeVerify(t *testing.T) {
	g := gpgtest.New(t)
	dir := t.TempDir()
	file := writeFile(t, filepath.Join(dir, "demo-1.0.0.zip"), payload())

	tests := []struct {
		algo   string
		digest []string
	}{
		{"ed25519", nil},
		{"rsa2048", nil},
		{"rsa2048", []string{"--digest-algo", "SHA512"}},
	}
	for i, tc := range tests {
		t.Run(tc.algo+strings.Join(tc.digest, ""), func(t *testing.T) {
			uid := "Interop " + tc.algo + " <interop" + string(rune('a'+i)) + "@example.com>"
			fpr := g.GenKey(uid, tc.algo, "")
			pub := writeFile(t, filepath.Join(dir, tc.algo+".pub.asc"), []byte(g.Must("--armor", "--export", fpr)))
			sig := filepath.Join(dir, "sig"+string(rune('a'+i))+".asc")
			g.Must(append(append([]string{"--local-user", fpr}, tc.digest...), "--armor", "--output", sig, "--detach-sign", file)...)

			out, errOut, code := runCLI(t, "verify", file, "--signature", sig, "--keyring", pub)
			if code != 0 {
				t.Fatalf("verify exit %d: %s", code, errOut)
			}
			if !strings.Contains(out, fpr) || !strings.Contains(out, fpr[len(fpr)-16:]) {
				t.Fatalf("output does not name key %s:\n%s", fpr, out)
			}

			// A keyring without the signer refuses the signature.
			other := sigtest.NewKey(t, "other")
			_, errOut, code = runCLI(t, "verify", file, "--signature", sig, "--keyring", other.PublicPath)
			if code != 1 || !strings.Contains(errOut, "not in the trusted keyring") {
				t.Fatalf("foreign key: exit %d, %s", code, errOut)
			}
			// Both keys in the keyring (repeated --keyring): accepted again.
			if _, errOut, code = runCLI(t, "verify", file, "--signature", sig, "--keyring", other.PublicPath, "--keyring", pub); code != 0 {
				t.Fatalf("two keyrings: exit %d, %s", code, errOut)
			}

			// One changed byte: refused as a mismatch.
			changed := payload()
			changed[len(changed)/2] ^= 1
			bad := writeFile(t, filepath.Join(t.TempDir(), "demo-1.0.0.zip"), changed)
			_, errOut, code = runCLI(t, "verify", bad, "--signature", sig, "--keyring", pub)
			if code != 1 || !strings.Contains(errOut, "does not match") {
				t.Fatalf("changed file: exit %d, %s", code, errOut)
			}
		})
	}
}

// TestWeSignGnuPGVerifies: pkgstore sign's FILE.sig verifies with
// gpg --verify, for a key we generate and for a passphrase-protected key
// exported from gpg.
func TestWeSignGnuPGVerifies(t *testing.T) {
	g := gpgtest.New(t)
	dir := t.TempDir()

	ours := sigtest.NewKey(t, "ours")
	g.Import(ours.PublicPath)

	const pass = "correct horse"
	gpgFpr := g.GenKey("Exported <exported@example.com>", "rsa2048", pass)
	secret := g.Must("--passphrase", pass, "--armor", "--export-secret-keys", gpgFpr)
	gpgPriv := writeFile(t, filepath.Join(dir, "exported.priv.asc"), []byte(secret))
	passFile := writeFile(t, filepath.Join(dir, "pass.txt"), []byte(pass+"\n"))

	tests := []struct {
		name string
		args []string
		fpr  string
	}{
		{"generated ed25519 key (old --key)", []string{"--key", ours.PrivatePath}, ours.Fingerprint},
		{"gpg-exported rsa key with passphrase", []string{"--sign-key", gpgPriv, "--passphrase-file", passFile}, gpgFpr},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFile(t, filepath.Join(dir, "p"+string(rune('a'+i))+"-1.0.0.zip"), payload())
			if _, errOut, code := runCLI(t, append([]string{"sign", file}, tc.args...)...); code != 0 {
				t.Fatalf("sign exit %d: %s", code, errOut)
			}
			sig, err := os.ReadFile(file + ".sig")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(sig, []byte("-----BEGIN PGP SIGNATURE-----")) {
				t.Fatalf("signature is not armored:\n%s", sig)
			}
			if fpr, err := g.Verify(file+".sig", file); err != nil || fpr != tc.fpr {
				t.Fatalf("gpg --verify: key %s, %v", fpr, err)
			}
			// gpg refuses the signature on other bytes.
			changed := payload()
			changed[0] ^= 1
			bad := writeFile(t, filepath.Join(t.TempDir(), "x.zip"), changed)
			_, err = g.Verify(file+".sig", bad)
			var ve *gpgtest.VerifyError
			if !errors.As(err, &ve) || !strings.Contains(ve.Output, "BADSIG") {
				t.Fatalf("gpg accepted a signature over other bytes: %v", err)
			}
		})
	}

	// A wrong passphrase is an error, not a signature.
	wrong := writeFile(t, filepath.Join(dir, "wrong.txt"), []byte("nope\n"))
	file := writeFile(t, filepath.Join(dir, "w-1.0.0.zip"), payload())
	if _, errOut, code := runCLI(t, "sign", file, "--sign-key", gpgPriv, "--passphrase-file", wrong); code != 1 {
		t.Fatalf("wrong passphrase: exit %d %s", code, errOut)
	}
	if _, err := os.Stat(file + ".sig"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("signature written despite the wrong passphrase: %v", err)
	}
}

func TestVerifyErrors(t *testing.T) {
	key := sigtest.NewKey(t, "k")
	dir := t.TempDir()
	file := writeFile(t, filepath.Join(dir, "a-1.0.0.zip"), payload())
	writeFile(t, file+".sig", key.Sign(t, payload()))
	garbage := writeFile(t, filepath.Join(dir, "garbage.sig"), []byte("-----BEGIN PGP SIGNATURE-----\n\nnot base64!\n-----END PGP SIGNATURE-----\n"))
	empty := writeFile(t, filepath.Join(dir, "empty.sig"), nil)

	tests := []struct {
		name    string
		args    []string
		code    int
		wantOut string
	}{
		{"good, default FILE.sig", []string{"verify", file, "--keyring", key.PublicPath}, 0, key.Fingerprint},
		{"no keyring", []string{"verify", file}, 2, "--keyring"},
		{"missing signature", []string{"verify", file, "--signature", filepath.Join(dir, "none.sig"), "--keyring", key.PublicPath}, 1, "missing"},
		{"empty signature", []string{"verify", file, "--signature", empty, "--keyring", key.PublicPath}, 1, "missing"},
		{"garbage signature", []string{"verify", file, "--signature", garbage, "--keyring", key.PublicPath}, 1, "not a valid OpenPGP signature"},
		{"keyring is not a key", []string{"verify", file, "--keyring", garbage}, 1, "keyring"},
		{"missing file", []string{"verify", filepath.Join(dir, "none.zip"), "--signature", file + ".sig", "--keyring", key.PublicPath}, 1, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d (%s%s)", code, tc.code, out, errOut)
			}
			if !strings.Contains(out+errOut, tc.wantOut) {
				t.Fatalf("output does not mention %q:\n%s%s", tc.wantOut, out, errOut)
			}
		})
	}
}

// TestVerifyFindsSignatureBesideFile: without --signature, verify takes
// FILE.sig or FILE.asc (what `gpg --armor --detach-sign FILE` writes), and
// names both when neither exists.
func TestVerifyFindsSignatureBesideFile(t *testing.T) {
	g := gpgtest.New(t)
	fpr := g.GenKey("Beside <beside@example.com>", "ed25519", "")
	dir := t.TempDir()
	pub := writeFile(t, filepath.Join(dir, "pub.asc"), []byte(g.Must("--armor", "--export", fpr)))
	file := writeFile(t, filepath.Join(dir, "demo-1.0.0.zip"), payload())

	_, errOut, code := runCLI(t, "verify", file, "--keyring", pub)
	if code != 1 || !strings.Contains(errOut, "neither "+file+".sig nor "+file+".asc exists") {
		t.Fatalf("no signature: exit %d, %s", code, errOut)
	}
	g.Must("--local-user", fpr, "--armor", "--detach-sign", file) // writes FILE.asc
	out, errOut, code := runCLI(t, "verify", file, "--keyring", pub)
	if code != 0 || !strings.Contains(out, fpr) {
		t.Fatalf("FILE.asc: exit %d, %s%s", code, out, errOut)
	}
}
