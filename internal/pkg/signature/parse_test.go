package signature_test

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/testkit/sigtest"
)

// TestParseArmored: an upstream signature kept without a key to verify it
// must still be one armored signature, kept in canonical armor only.
func TestParseArmored(t *testing.T) {
	k := sigtest.NewKey(t, "upstream")
	data := []byte("zip bytes")
	good := k.Sign(t, data)
	block, err := armor.Decode(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	var binary bytes.Buffer
	if _, err := binary.ReadFrom(block.Body); err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(k.PublicPath)
	if err != nil {
		t.Fatal(err)
	}
	wrapped := append(append([]byte("<html><body>\n"), good...), "</body></html>\n"...)
	for _, tt := range []struct {
		name string
		sig  []byte
		want error
		msg  string
	}{
		{"empty", nil, signature.ErrMissing, ""},
		{"garbage", []byte("not a signature"), signature.ErrMalformed, ""},
		{"binary", binary.Bytes(), signature.ErrMalformed, "not armored"},
		{"public key", pub, signature.ErrMalformed, "armor block is"},
		{"too large", bytes.Repeat([]byte("A"), signature.MaxSignatureSize+1), signature.ErrMalformed, "larger than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := signature.ParseArmored(tt.sig)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err %v, want %v mentioning %q", err, tt.want, tt.msg)
			}
		})
	}
	for name, sig := range map[string][]byte{"canonical": good, "wrapped in HTML": wrapped} {
		p, err := signature.ParseArmored(sig)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(p.Armored, good) && !strings.HasPrefix(string(p.Armored), "-----BEGIN PGP SIGNATURE-----") {
			t.Errorf("%s: kept %q", name, p.Armored)
		}
		if bytes.Contains(p.Armored, []byte("html")) {
			t.Errorf("%s: text around the armor kept: %q", name, p.Armored)
		}
		if _, err := k.Keyring.Verify(bytes.NewReader(data), bytes.NewReader(p.Armored)); err != nil {
			t.Errorf("%s: the kept armor does not verify: %v", name, err)
		}
		if len(p.KeyID) != 16 {
			t.Errorf("%s: key id %q", name, p.KeyID)
		}
	}
}
