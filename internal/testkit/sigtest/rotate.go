package sigtest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"pkgstore/internal/pkg/signature"
)

// StoreKey is a store key made of a primary key and signing subkeys, the
// shape a gap-free rotation needs (docs/operators-governance.md): a new
// signing subkey is added, the primary key (and the fingerprint) stays.
type StoreKey struct {
	e   *openpgp.Entity
	now time.Time
	dir string
}

// NewStoreKey generates a primary key with one signing subkey.
func NewStoreKey(t testing.TB) *StoreKey {
	t.Helper()
	now := time.Now().Add(-time.Hour)
	e, err := openpgp.NewEntity("store", "test", "store@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	k := &StoreKey{e: e, now: now, dir: t.TempDir()}
	k.AddSigningSubkey(t)
	return k
}

// AddSigningSubkey adds a signing subkey created after every other one:
// from then on the key signs with it.
func (k *StoreKey) AddSigningSubkey(t testing.TB) {
	t.Helper()
	k.now = k.now.Add(time.Minute)
	now := k.now
	if err := k.e.AddSigningSubkey(&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return now }}); err != nil {
		t.Fatal(err)
	}
}

// SigningSubkeyIDs lists the signing subkeys' key ids, oldest first.
func (k *StoreKey) SigningSubkeyIDs() []string {
	var out []string
	for _, s := range k.e.Subkeys {
		if s.Sig != nil && s.Sig.FlagSign {
			out = append(out, keyID(s.PublicKey.KeyId))
		}
	}
	return out
}

func keyID(id uint64) string {
	const hex = "0123456789ABCDEF"
	b := make([]byte, 16)
	for i := 15; i >= 0; i-- {
		b[i] = hex[id&0xf]
		id >>= 4
	}
	return string(b)
}

// Private writes the private key (every subkey) to a new file.
func (k *StoreKey) Private(t testing.TB, name string) string {
	t.Helper()
	var buf bytes.Buffer
	w, _ := armor.Encode(&buf, openpgp.PrivateKeyType, nil)
	if err := k.e.SerializePrivateWithoutSigning(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return k.write(t, name, buf.Bytes())
}

// Public writes the public key to a new file, leaving out the signing
// subkeys whose ids are in drop (a retired subkey removed from Kibana's
// key file).
func (k *StoreKey) Public(t testing.TB, name string, drop ...string) string {
	t.Helper()
	e := *k.e
	e.Subkeys = nil
	for _, s := range k.e.Subkeys {
		keep := true
		for _, d := range drop {
			if keyID(s.PublicKey.KeyId) == d {
				keep = false
			}
		}
		if keep {
			e.Subkeys = append(e.Subkeys, s)
		}
	}
	var buf bytes.Buffer
	w, _ := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return k.write(t, name, buf.Bytes())
}

// Signer loads the private key as a store loads it.
func (k *StoreKey) Signer(t testing.TB) *signature.SigningKey {
	t.Helper()
	s, err := signature.LoadStoreKey(k.Private(t, "signer"), "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (k *StoreKey) write(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(k.dir, name+".asc")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
