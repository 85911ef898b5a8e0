package signature_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/testkit/gpgtest"
)

// TestStoreKeyGnuPGRotation runs the rotation commands of
// docs/operators-governance.md with GnuPG: a store key with a signing
// subkey, a second subkey added with --quick-add-key and exported: the
// store signs with the newest subkey, under the same fingerprint, and gpg
// verifies what it signs.
func TestStoreKeyGnuPGRotation(t *testing.T) {
	h := gpgtest.New(t)
	fpr := h.GenKey("store@example.com", "ed25519", "")
	subkeys := func() []string {
		var out []string
		for _, line := range strings.Split(h.Must("--with-colons", "--list-keys", fpr), "\n") {
			if f := strings.Split(line, ":"); len(f) > 11 && f[0] == "sub" && strings.Contains(f[11], "s") {
				out = append(out, f[4])
			}
		}
		return out
	}
	export := func(name string) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(h.Must("--armor", "--export-secret-keys", fpr)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var ids []string
	for i := range 2 {
		if i > 0 {
			time.Sleep(1100 * time.Millisecond) // gpg's creation times are in seconds
		}
		h.Must("--passphrase", "", "--quick-add-key", fpr, "ed25519", "sign", "2y")
		k, err := signature.LoadStoreKey(export("v"+string(rune('1'+i))+".asc"), "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		subs := subkeys()
		if len(subs) != i+1 {
			t.Fatalf("gpg lists signing subkeys %v", subs)
		}
		if k.Fingerprint() != fpr || k.SigningKeyID(time.Now()) != subs[i] {
			t.Fatalf("store key %s signs with %s; want %s with the newest subkey %s (of %v)", k.Fingerprint(), k.SigningKeyID(time.Now()), fpr, subs[i], subs)
		}
		ids = append(ids, k.SigningKeyID(time.Now()))
		data := filepath.Join(t.TempDir(), "p-1.0.0.zip")
		os.WriteFile(data, []byte("zip bytes"), 0o644)
		sig, err := k.SignArmored([]byte("zip bytes"))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(data+".sig", sig, 0o644)
		// gpg names the signing subkey's fingerprint (its id is the end).
		if got, err := h.Verify(data+".sig", data); err != nil || !strings.HasSuffix(got, subs[i]) {
			t.Fatalf("gpg --verify: %q %v, want subkey %s", got, err, subs[i])
		}
	}
	if ids[0] == ids[1] {
		t.Fatalf("both exports sign with %s", ids[0])
	}
}
