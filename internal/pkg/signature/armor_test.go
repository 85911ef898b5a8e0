package signature_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/testkit/gpgtest"
	"pkgstore/internal/testkit/sigtest"
)

// TestArmoredIsCanonical: the signature a store keeps (Signer.Armored) is
// the bytes given when they are canonical armor, and otherwise the
// verified packet armored anew, so that nothing around or inside the armor
// but the signature reaches clients (issue 21, item 9: a .sig with HTML
// around its armor was stored and served verbatim).
func TestArmoredIsCanonical(t *testing.T) {
	key := sigtest.NewKey(t, "trusted")
	data := []byte("zip bytes")
	good := key.Sign(t, data)
	binary := dearmor(t, good)
	twoPackets := armorOf(t, append(append([]byte{}, binary...), binary...))

	tests := []struct {
		name string
		sig  []byte
		keep bool
	}{
		{"elastic-package (go-crypto) armor", good, true},
		{"without the final newline", bytes.TrimSuffix(good, []byte("\n")), true},
		{"with a Version header", bytes.Replace(good, []byte("-----\n\n"), []byte("-----\nVersion: GnuPG v1\n\n"), 1), true},
		{"HTML around", []byte("<html><body><script>alert(1)</script><pre>\n" + string(good) + "</pre></body></html>\n"), false},
		{"text before", append([]byte("signed by the release team\n"), good...), false},
		{"text after", append(append([]byte{}, good...), "<img src=x onerror=alert(1)>\n"...), false},
		{"CRLF line ends", bytes.ReplaceAll(good, []byte("\n"), []byte("\r\n")), false},
		{"HTML in a header", bytes.Replace(good, []byte("-----\n\n"), []byte("-----\nComment: <script>alert(1)</script>\n\n"), 1), false},
		{"unknown header", bytes.Replace(good, []byte("-----\n\n"), []byte("-----\nX-Note: hi\n\n"), 1), false},
		{"binary signature", binary, false},
		{"two packets in the armor", twoPackets, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := key.Keyring.Verify(bytes.NewReader(data), bytes.NewReader(tt.sig))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got := bytes.Equal(s.Armored, tt.sig); got != tt.keep {
				t.Fatalf("kept verbatim = %v, want %v; Armored:\n%s", got, tt.keep, s.Armored)
			}
			if !bytes.HasPrefix(s.Armored, []byte("-----BEGIN PGP SIGNATURE-----\n")) || !bytes.HasSuffix(bytes.TrimSuffix(s.Armored, []byte("\n")), []byte("-----END PGP SIGNATURE-----")) {
				t.Fatalf("Armored is not one armored block:\n%s", s.Armored)
			}
			if bytes.ContainsAny(s.Armored, "<>&\r") {
				t.Fatalf("Armored holds markup or CR:\n%q", s.Armored)
			}
			if !tt.keep {
				if !bytes.Equal(dearmor(t, s.Armored), binary) {
					t.Fatal("re-armored signature is not exactly the verified packet")
				}
				// What a store serves verifies again and is stable.
				again, err := key.Keyring.Verify(bytes.NewReader(data), bytes.NewReader(s.Armored))
				if err != nil {
					t.Fatalf("re-armored signature does not verify: %v", err)
				}
				if !bytes.Equal(again.Armored, s.Armored) {
					t.Fatal("re-armored signature is not canonical itself")
				}
			}
		})
	}
}

// TestArmoredGnuPG: gpg's own armor is kept byte for byte, and gpg
// verifies what a junk-wrapped signature is re-armored into.
func TestArmoredGnuPG(t *testing.T) {
	g := gpgtest.New(t)
	g.GenKey("rel@example.com", "ed25519", "")
	dir := t.TempDir()
	pub := filepath.Join(dir, "pub.asc")
	if err := os.WriteFile(pub, []byte(g.Must("--armor", "--export", "rel@example.com")), 0o644); err != nil {
		t.Fatal(err)
	}
	kr, err := signature.LoadKeyring(pub)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "p.zip")
	if err := os.WriteFile(file, []byte("zip bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	g.Must("--armor", "--detach-sign", "--output", file+".asc", file)
	sig, _ := os.ReadFile(file + ".asc")
	data, _ := os.ReadFile(file)
	s, err := kr.Verify(bytes.NewReader(data), bytes.NewReader(sig))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.Armored, sig) {
		t.Fatalf("gpg's armor was not kept verbatim:\n%s\nbecame\n%s", sig, s.Armored)
	}
	wrapped := "<!doctype html><p>signature:</p>\n" + string(sig) + "<p>end</p>\n"
	if s, err = kr.Verify(bytes.NewReader(data), strings.NewReader(wrapped)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file+".sig", s.Armored, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Verify(file+".sig", file); err != nil {
		t.Fatalf("gpg --verify of the re-armored signature: %v", err)
	}
}

func dearmor(t *testing.T, sig []byte) []byte {
	t.Helper()
	b, err := armor.Decode(bytes.NewReader(sig))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := out.ReadFrom(b.Body); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func armorOf(t *testing.T, pkts []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, _ := armor.Encode(&buf, "PGP SIGNATURE", nil)
	w.Write(pkts)
	w.Close()
	buf.WriteByte('\n')
	return buf.Bytes()
}
