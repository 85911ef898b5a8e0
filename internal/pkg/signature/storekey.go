package signature

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

// ErrCannotSign is returned for a private key that holds no key allowed to
// sign now (no signing flag, or every signing key expired or revoked).
var ErrCannotSign = errors.New("key cannot sign")

// CanSign reports, with a specific error, why the key cannot make a
// signature at time now: the whole key expired or revoked (ErrKeyInvalid),
// or no (sub)key of it is a valid signing key (ErrCannotSign). A store
// checks its key at start rather than at its first publication.
func (s *SigningKey) CanSign(now time.Time) error {
	e := s.entity
	if k, ok := e.SigningKey(now); ok {
		if k.PrivateKey == nil || k.PrivateKey.Dummy() {
			return fmt.Errorf("%w: the secret part of signing key %016X is not in the file (exported with --export-secret-subkeys of another subkey?)", ErrCannotSign, k.PublicKey.KeyId)
		}
		return nil
	}
	if e.PrimaryKey.CreationTime.After(now) {
		return fmt.Errorf("%w: key %s was created in the future (%s): check this machine's clock", ErrCannotSign, s.Fingerprint(), e.PrimaryKey.CreationTime.UTC().Format(time.RFC3339))
	}
	if e.Revoked(now) {
		return fmt.Errorf("%w: key %s is revoked", ErrKeyInvalid, s.Fingerprint())
	}
	if self, _ := e.PrimarySelfSignature(); self != nil && self.KeyLifetimeSecs != nil && e.PrimaryKey.KeyExpired(self, now) {
		return fmt.Errorf("%w: key %s expired on %s", ErrKeyInvalid, s.Fingerprint(), e.PrimaryKey.CreationTime.Add(time.Duration(*self.KeyLifetimeSecs)*time.Second).UTC().Format(time.DateOnly))
	}
	return fmt.Errorf("%w: key %s has no valid signing key (no key flagged for signing, or every signing subkey expired or revoked)", ErrCannotSign, s.Fingerprint())
}

// SigningKeyID is the key id (16 hex digits) of the (sub)key that signs at
// time now: the newest valid signing subkey, else the primary key. A
// rotation that adds a signing subkey changes it while the fingerprint (of
// the primary key) stays.
func (s *SigningKey) SigningKeyID(now time.Time) string {
	k, ok := s.entity.SigningKey(now)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%016X", k.PublicKey.KeyId)
}

// Keyring returns the public part of the key as a keyring, to check that
// a signature was made by it.
func (s *SigningKey) Keyring() *Keyring {
	return &Keyring{entities: openpgp.EntityList{s.entity}}
}

// ArmoredPublicKey returns the key's public part, armored: the file
// Kibana's xpack.fleet.packageVerification.gpgKeyPath names.
func (s *SigningKey) ArmoredPublicKey() ([]byte, error) {
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, err
	}
	if err := s.entity.Serialize(w); err != nil {
		return nil, fmt.Errorf("export public key: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// SignArmored returns an armored detached signature of data (Sign), made
// by the key's current signing key.
func (s *SigningKey) SignArmored(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := s.Sign(&buf, bytes.NewReader(data)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// LoadStoreKey loads a store's signing key (serve --store-signing-key,
// resign --key, mirror --resign-key) and checks that it can sign now, so
// that a wrong file fails at start with a reason: not a key, a public key,
// an encrypted key without its passphrase, an expired or revoked key, a
// key with no signing capability.
func LoadStoreKey(path, passphraseFile string, now time.Time) (*SigningKey, error) {
	k, err := LoadSigningKeyFile(path, passphraseFile)
	if err != nil {
		return nil, err
	}
	if err := k.CanSign(now); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// Merge returns one keyring holding the keys of every given keyring (nil
// ones are skipped).
func Merge(krs ...*Keyring) *Keyring {
	out := &Keyring{}
	for _, k := range krs {
		if k != nil {
			out.entities = append(out.entities, k.entities...)
		}
	}
	return out
}
