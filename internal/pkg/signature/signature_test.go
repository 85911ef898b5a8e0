package signature_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/testkit/sigtest"
)

func TestVerify(t *testing.T) {
	trusted := sigtest.NewKey(t, "trusted")
	other := sigtest.NewKey(t, "other")
	data := []byte("zip bytes \x00\x01 here")
	good := trusted.Sign(t, data)

	tests := []struct {
		name    string
		data    []byte
		sig     []byte
		wantErr error
	}{
		{"valid", data, good, nil},
		{"other bytes", append([]byte("x"), data...), good, signature.ErrMismatch},
		{"unknown key", data, other.Sign(t, data), signature.ErrUnknownKey},
		{"empty", data, nil, signature.ErrMissing},
		{"garbage", data, []byte("not a signature at all"), signature.ErrMalformed},
		{"corrupt armor", data, bytes.Replace(good, []byte("\n"), []byte("\n!"), 3), signature.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := trusted.Keyring.Verify(bytes.NewReader(tt.data), bytes.NewReader(tt.sig))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if s.Fingerprint != trusted.Fingerprint || len(s.KeyID) != 16 {
					t.Fatalf("signer = %+v, want fingerprint %s", s, trusted.Fingerprint)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestKeyringSeveralKeysInOneFile(t *testing.T) {
	a := sigtest.NewKey(t, "a")
	b := sigtest.NewKey(t, "b")
	pa, _ := os.ReadFile(a.PublicPath)
	pb, _ := os.ReadFile(b.PublicPath)
	path := filepath.Join(t.TempDir(), "keys.asc")
	os.WriteFile(path, append(append(pa, '\n'), pb...), 0o644)
	kr, err := signature.LoadKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	if kr.Len() != 2 {
		t.Fatalf("keyring has %d keys, want 2", kr.Len())
	}
	data := []byte("rotation")
	for _, k := range []*sigtest.Key{a, b} {
		if _, err := kr.Verify(bytes.NewReader(data), bytes.NewReader(k.Sign(t, data))); err != nil {
			t.Errorf("key %s: %v", k.Fingerprint, err)
		}
	}
	if got := strings.Join(kr.Fingerprints(), ","); !strings.Contains(got, a.Fingerprint) || !strings.Contains(got, b.Fingerprint) {
		t.Errorf("fingerprints %s", got)
	}
}
