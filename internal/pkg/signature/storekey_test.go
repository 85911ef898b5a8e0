package signature_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/testkit/sigtest"
)

// writeEntity writes e's private key, armored, encrypted with pass when
// it is not empty.
func writeEntity(t *testing.T, e *openpgp.Entity, pass string, public bool) string {
	t.Helper()
	if pass != "" {
		if err := e.EncryptPrivateKeys([]byte(pass), nil); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	typ := openpgp.PrivateKeyType
	if public {
		typ = openpgp.PublicKeyType
	}
	w, _ := armor.Encode(&buf, typ, nil)
	var err error
	if public {
		err = e.Serialize(w)
	} else {
		err = e.SerializePrivateWithoutSigning(w, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	p := filepath.Join(t.TempDir(), "key.asc")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newEntity(t *testing.T, cfg *packet.Config) *openpgp.Entity {
	t.Helper()
	if cfg == nil {
		cfg = &packet.Config{}
	}
	cfg.Algorithm = packet.PubKeyAlgoEdDSA
	e, err := openpgp.NewEntity("store", "", "store@example.com", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestLoadStoreKeyErrors: every wrong store key file is refused at load
// with a reason naming what is wrong.
func TestLoadStoreKeyErrors(t *testing.T) {
	now := time.Now()
	good := sigtest.NewKey(t, "good")
	notKey := filepath.Join(t.TempDir(), "notkey.txt")
	os.WriteFile(notKey, []byte("hello, I am not a key\n"), 0o600)
	passFile := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(passFile, []byte("s3cret\n"), 0o600)
	wrongPass := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrongPass, []byte("nope\n"), 0o600)

	// Expired: created two days ago, valid one day.
	expired := newEntity(t, &packet.Config{Time: func() time.Time { return now.Add(-48 * time.Hour) }, KeyLifetimeSecs: 86400})
	// Cannot sign: a primary key flagged for certification only and no
	// signing subkey.
	noSign := newEntity(t, nil)
	for _, id := range noSign.Identities {
		f := false
		id.SelfSignature.FlagSign = f
		if err := id.SelfSignature.SignUserId(id.UserId.Id, noSign.PrimaryKey, noSign.PrivateKey, nil); err != nil {
			t.Fatal(err)
		}
	}
	future := newEntity(t, &packet.Config{Time: func() time.Time { return now.Add(48 * time.Hour) }})
	revoked := newEntity(t, nil)
	if err := revoked.RevokeKey(packet.KeyCompromised, "lost", nil); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, path, pass string
		is               error
		want             string
	}{
		{"missing file", filepath.Join(t.TempDir(), "absent.asc"), "", nil, "open private key"},
		{"not a key", notKey, "", nil, "want an armored OpenPGP private key"},
		{"public key", good.PublicPath, "", nil, "is this a public key"},
		{"encrypted, no passphrase", writeEntity(t, newEntity(t, nil), "s3cret", false), "", nil, "a passphrase is needed"},
		{"encrypted, wrong passphrase", writeEntity(t, newEntity(t, nil), "s3cret", false), wrongPass, nil, "unlock private key"},
		{"expired", writeEntity(t, expired, "", false), "", signature.ErrKeyInvalid, "expired on"},
		{"revoked", writeEntity(t, revoked, "", false), "", signature.ErrKeyInvalid, "revoked"},
		{"cannot sign", writeEntity(t, noSign, "", false), "", signature.ErrCannotSign, "no valid signing key"},
		{"created in the future", writeEntity(t, future, "", false), "", signature.ErrCannotSign, "created in the future"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := signature.LoadStoreKey(tc.path, tc.pass, time.Now())
			if err == nil {
				t.Fatal("loaded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
	t.Run("encrypted, right passphrase", func(t *testing.T) {
		k, err := signature.LoadStoreKey(writeEntity(t, newEntity(t, nil), "s3cret", false), passFile, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		sig, err := k.SignArmored([]byte("data"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.Keyring().Verify(strings.NewReader("data"), bytes.NewReader(sig)); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSigningKeyIDFollowsNewestSubkey: a key that gains a signing subkey
// signs with it from then on, under the same fingerprint (the rotation
// docs/operators-governance.md describes).
func TestSigningKeyIDFollowsNewestSubkey(t *testing.T) {
	e := newEntity(t, nil)
	p := writeEntity(t, e, "", false)
	k1, err := signature.LoadStoreKey(p, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.AddSigningSubkey(&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return time.Now().Add(time.Second) }}); err != nil {
		t.Fatal(err)
	}
	k2, err := signature.LoadStoreKey(writeEntity(t, e, "", false), "", time.Now().Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if k1.Fingerprint() != k2.Fingerprint() {
		t.Fatalf("fingerprint changed: %s, %s", k1.Fingerprint(), k2.Fingerprint())
	}
	id1, id2 := k1.SigningKeyID(time.Now()), k2.SigningKeyID(time.Now().Add(2*time.Second))
	if id1 == "" || id1 == id2 {
		t.Fatalf("signing key ids %q, %q: want the new subkey", id1, id2)
	}
	if id2 != strings.ToUpper(id2) || len(id2) != 16 {
		t.Fatalf("key id %q", id2)
	}
}
