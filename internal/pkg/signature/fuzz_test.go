package signature_test

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/testkit/sigtest"
)

// FuzzVerify feeds arbitrary signature bytes (armored or binary) to a real
// keyring: Verify must never panic, and must answer either a signer (only
// for a signature that really verifies) or one of the package's errors.
func FuzzVerify(f *testing.F) {
	key := sigtest.NewKey(f, "fuzz")
	data := []byte("the zip")
	good := key.Sign(f, data)
	f.Add(good)
	f.Add(bytes.Replace(good, []byte("SIGNATURE"), []byte("MESSAGE"), 2))
	f.Add([]byte("-----BEGIN PGP SIGNATURE-----\n\nwsBcBAABCAAQ\n=AAAA\n-----END PGP SIGNATURE-----\n"))
	f.Add([]byte{0x88, 0x5e, 0x04, 0x00, 0x11, 0x08, 0x00})
	f.Add([]byte{})
	f.Add(append([]byte("<html>\n"), good...))
	f.Fuzz(func(t *testing.T, sig []byte) {
		s, err := key.Keyring.Verify(bytes.NewReader(data), bytes.NewReader(sig))
		if err == nil {
			if s == nil || s.Fingerprint != key.Fingerprint {
				t.Fatalf("verified by %+v", s)
			}
			// What a store keeps is markup-free armor that verifies and
			// is kept as it is when given again.
			if bytes.ContainsAny(s.Armored, "<>&\r") || !bytes.HasPrefix(s.Armored, []byte("-----BEGIN PGP SIGNATURE-----\n")) {
				t.Fatalf("Armored is not clean armor: %q", s.Armored)
			}
			again, err := key.Keyring.Verify(bytes.NewReader(data), bytes.NewReader(s.Armored))
			if err != nil || !bytes.Equal(again.Armored, s.Armored) {
				t.Fatalf("Armored does not verify as itself: %v", err)
			}
			return
		}
		for _, want := range []error{signature.ErrMissing, signature.ErrMalformed, signature.ErrMismatch, signature.ErrUnknownKey, signature.ErrKeyInvalid} {
			if errors.Is(err, want) {
				return
			}
		}
		t.Fatalf("Verify error %v is none of the package's errors", err)
	})
}

// FuzzParseKeyring: a keyring file is operator input, but a broken one
// must be an error, never a panic or an empty keyring that trusts nothing
// silently.
func FuzzParseKeyring(f *testing.F) {
	key := sigtest.NewKey(f, "fuzz")
	pub, err := os.ReadFile(key.PublicPath)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pub)
	f.Add([]byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ\n-----END PGP PUBLIC KEY BLOCK-----\n"))
	f.Add([]byte("not a key"))
	f.Fuzz(func(t *testing.T, in []byte) {
		k, err := signature.ParseKeyring(bytes.NewReader(in))
		if err == nil && k.Len() == 0 {
			t.Fatal("keyring without keys accepted")
		}
	})
}
