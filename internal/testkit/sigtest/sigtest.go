// Package sigtest makes real OpenPGP keys for tests.
package sigtest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"pkgstore/internal/pkg/signature"
)

// Key is a freshly generated key pair with its armored forms on disk.
type Key struct {
	Signer      *signature.SigningKey
	Keyring     *signature.Keyring
	PublicPath  string // armored public key
	PrivatePath string // armored unencrypted private key
	Fingerprint string
}

// NewKey generates an Ed25519 key pair (fast enough for every test) and
// writes it under t.TempDir().
func NewKey(t testing.TB, name string) *Key {
	t.Helper()
	e, err := openpgp.NewEntity(name, "test", name+"@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	var pub, priv bytes.Buffer
	w, _ := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	w, _ = armor.Encode(&priv, openpgp.PrivateKeyType, nil)
	if err := e.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	dir := t.TempDir()
	k := &Key{PublicPath: filepath.Join(dir, name+".pub.asc"), PrivatePath: filepath.Join(dir, name+".priv.asc")}
	if err := os.WriteFile(k.PublicPath, pub.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(k.PrivatePath, priv.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if k.Signer, err = signature.LoadSigningKey(bytes.NewReader(priv.Bytes()), nil); err != nil {
		t.Fatal(err)
	}
	if k.Keyring, err = signature.ParseKeyring(bytes.NewReader(pub.Bytes())); err != nil {
		t.Fatal(err)
	}
	k.Fingerprint = k.Signer.Fingerprint()
	return k
}

// Sign returns the armored detached signature of data.
func (k *Key) Sign(t testing.TB, data []byte) []byte {
	t.Helper()
	var sig bytes.Buffer
	if err := k.Signer.Sign(&sig, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	return sig.Bytes()
}
