// Package signature verifies and makes armored detached OpenPGP signatures
// over package zips, against a keyring of trusted public keys.
package signature

import (
	"bufio"
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Sentinel errors callers branch on; Verify wraps them with detail.
var (
	ErrMissing    = errors.New("signature is missing")
	ErrMalformed  = errors.New("signature is not a valid OpenPGP signature")
	ErrUnknownKey = errors.New("signature was made by a key that is not in the trusted keyring")
	ErrMismatch   = errors.New("signature does not match the file's bytes")
	ErrKeyInvalid = errors.New("signing key is expired or revoked")
)

// MaxSignatureSize bounds what Verify reads of a signature; real detached
// signatures are well under 2 KiB.
const MaxSignatureSize = 64 << 10

// Keyring is a set of trusted public keys.
type Keyring struct {
	entities openpgp.EntityList
}

// Len returns the number of keys.
func (k *Keyring) Len() int { return len(k.entities) }

// Fingerprints lists the primary keys' fingerprints (upper-case hex).
func (k *Keyring) Fingerprints() []string {
	out := make([]string, 0, len(k.entities))
	for _, e := range k.entities {
		out = append(out, fingerprint(e))
	}
	return out
}

// ParseKeyring reads one or more armored (or binary) public keys.
func ParseKeyring(r io.Reader) (*Keyring, error) {
	data, err := io.ReadAll(io.LimitReader(r, 16<<20))
	if err != nil {
		return nil, err
	}
	var el openpgp.EntityList
	if bytes.Contains(data, []byte("-----BEGIN PGP")) {
		// A file may hold several armored blocks one after the other.
		rest := data
		for {
			i := bytes.Index(rest, []byte("-----BEGIN PGP"))
			if i < 0 {
				break
			}
			rest = rest[i:]
			block, err := armor.Decode(bytes.NewReader(rest))
			if err != nil {
				return nil, fmt.Errorf("decode armored key: %w", err)
			}
			keys, err := openpgp.ReadKeyRing(block.Body)
			if err != nil {
				return nil, fmt.Errorf("read armored key: %w", err)
			}
			el = append(el, keys...)
			end := bytes.Index(rest, []byte("-----END PGP"))
			if end < 0 {
				break
			}
			rest = rest[end+len("-----END PGP"):]
		}
	} else {
		el, err = openpgp.ReadKeyRing(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("read key: %w", err)
		}
	}
	if len(el) == 0 {
		return nil, errors.New("no OpenPGP key found")
	}
	return &Keyring{entities: el}, nil
}

// LoadKeyring reads every file (each may hold several keys) into one keyring.
func LoadKeyring(paths ...string) (*Keyring, error) {
	kr := &Keyring{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("open keyring: %w", err)
		}
		k, err := ParseKeyring(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("keyring %s: %w", p, err)
		}
		kr.entities = append(kr.entities, k.entities...)
	}
	return kr, nil
}

// Signer describes the key that made a valid signature.
type Signer struct {
	KeyID       string // 16 hex digits of the signing (sub)key
	Fingerprint string // primary key fingerprint, 40 hex digits
	UserIDs     []string
	Created     time.Time // signature creation time
	// Armored is the signature as a store keeps and serves it: the bytes
	// given when they are one canonical armored block (as gpg,
	// elastic-package and openpgp.js write it: nothing around the armor,
	// "\n" line ends, standard headers only, the one signature packet
	// verified), otherwise that packet armored anew. Text around the
	// armor (HTML, notes), a binary signature, CRLF line ends or packets
	// after the verified one never reach a client.
	Armored []byte
}

// Verify checks sig (armored or binary detached signature) over every byte
// of data, streaming data once.
func (k *Keyring) Verify(data io.Reader, sig io.Reader) (*Signer, error) {
	raw, err := io.ReadAll(io.LimitReader(sig, MaxSignatureSize+1))
	if err != nil {
		return nil, fmt.Errorf("read signature: %w", err)
	}
	pktBytes, issuer, _, err := decode(raw)
	if err != nil {
		return nil, err
	}
	if len(k.entities.KeysById(issuer)) == 0 {
		return nil, fmt.Errorf("%w: issuer key id %016X (trusted: %s)", ErrUnknownKey, issuer, strings.Join(k.Fingerprints(), ", "))
	}
	br := getReader(data)
	psig, entity, err := openpgp.VerifyDetachedSignature(k.entities, br, bytes.NewReader(pktBytes), nil)
	putReader(br)
	if err != nil {
		switch {
		case errors.Is(err, pgperrors.ErrUnknownIssuer):
			return nil, fmt.Errorf("%w: issuer key id %016X", ErrUnknownKey, issuer)
		case errors.Is(err, pgperrors.ErrKeyExpired), errors.Is(err, pgperrors.ErrKeyRevoked), errors.Is(err, pgperrors.ErrSignatureExpired):
			return nil, fmt.Errorf("%w: %v", ErrKeyInvalid, err)
		}
		var sigErr pgperrors.SignatureError
		if errors.As(err, &sigErr) {
			return nil, fmt.Errorf("%w (key id %016X)", ErrMismatch, issuer)
		}
		var structErr pgperrors.StructuralError
		if errors.As(err, &structErr) {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		return nil, fmt.Errorf("verify signature: %w", err)
	}
	s := &Signer{KeyID: fmt.Sprintf("%016X", issuer), Fingerprint: fingerprint(entity)}
	if s.Armored, err = canonical(raw, pktBytes); err != nil {
		return nil, err
	}
	if psig != nil {
		s.Created = psig.CreationTime
	}
	for name := range entity.Identities {
		s.UserIDs = append(s.UserIDs, name)
	}
	return s, nil
}

// decode reads the packets of raw (armored or binary, at most
// MaxSignatureSize bytes) and the issuer of the first, which must be a
// signature: a malformed signature is reported as such, and the issuer is
// known for the error messages, before any key is looked up.
func decode(raw []byte) (pkts []byte, issuer uint64, armored bool, err error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, 0, false, ErrMissing
	}
	if len(raw) > MaxSignatureSize {
		return nil, 0, false, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, MaxSignatureSize)
	}
	body := io.Reader(bytes.NewReader(raw))
	if bytes.Contains(raw[:min(len(raw), 1024)], []byte("-----BEGIN PGP")) {
		block, err := armor.Decode(bytes.NewReader(raw))
		if err != nil {
			return nil, 0, false, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if block.Type != openpgp.SignatureType {
			return nil, 0, false, fmt.Errorf("%w: armor block is %q, want %q", ErrMalformed, block.Type, openpgp.SignatureType)
		}
		body, armored = block.Body, true
	}
	if pkts, err = io.ReadAll(body); err != nil {
		return nil, 0, false, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if issuer, err = firstIssuer(pkts); err != nil {
		return nil, 0, false, err
	}
	return pkts, issuer, armored, nil
}

func firstIssuer(pkts []byte) (uint64, error) {
	p, err := packet.NewReader(bytes.NewReader(pkts)).Next()
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	sig, ok := p.(*packet.Signature)
	if !ok {
		return 0, fmt.Errorf("%w: first packet is %T, not a signature", ErrMalformed, p)
	}
	if sig.IssuerKeyId == nil {
		return 0, fmt.Errorf("%w: signature names no issuer key", ErrMalformed)
	}
	return *sig.IssuerKeyId, nil
}

func fingerprint(e *openpgp.Entity) string {
	return fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)
}

// SigningKey is a private key ready to sign.
type SigningKey struct {
	entity *openpgp.Entity
}

// Fingerprint of the signing key's primary key.
func (s *SigningKey) Fingerprint() string { return fingerprint(s.entity) }

// LoadSigningKey reads an armored private key; passphrase unlocks it when it
// is encrypted (nil for an unencrypted key).
func LoadSigningKey(r io.Reader, passphrase []byte) (*SigningKey, error) {
	el, err := openpgp.ReadArmoredKeyRing(r)
	if err != nil {
		return nil, fmt.Errorf("read private key (want an armored OpenPGP private key, as gpg --armor --export-secret-keys writes): %w", err)
	}
	for _, e := range el {
		if e.PrivateKey == nil {
			continue
		}
		if e.PrivateKey.Encrypted {
			if len(passphrase) == 0 {
				return nil, errors.New("private key is encrypted: a passphrase is needed")
			}
			if err := e.DecryptPrivateKeys(passphrase); err != nil {
				return nil, fmt.Errorf("unlock private key: %w", err)
			}
		}
		return &SigningKey{entity: e}, nil
	}
	return nil, errors.New("no private key found (is this a public key?)")
}

// LoadSigningKeyFile is LoadSigningKey on a file, with the passphrase read
// from passphraseFile when it is not empty.
func LoadSigningKeyFile(path, passphraseFile string) (*SigningKey, error) {
	var pass []byte
	if passphraseFile != "" {
		b, err := os.ReadFile(passphraseFile)
		if err != nil {
			return nil, fmt.Errorf("read passphrase: %w", err)
		}
		pass = bytes.TrimRight(b, "\r\n")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open private key: %w", err)
	}
	defer f.Close()
	k, err := LoadSigningKey(f, pass)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// Sign writes an armored detached binary-mode SHA-512 signature of data, as
// elastic-package does.
func (s *SigningKey) Sign(w io.Writer, data io.Reader) error {
	cfg := &packet.Config{DefaultHash: crypto.SHA512}
	br := getReader(data)
	err := openpgp.ArmoredDetachSign(w, s.entity, br, cfg)
	putReader(br)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	_, err = io.WriteString(w, "\n")
	return err
}

// readers hold the buffers the data is hashed through: large reads keep
// the hash fed, and reusing them spares an allocation (and its zeroing)
// of 256 KiB per signature made or checked.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 256<<10) }}

func getReader(data io.Reader) *bufio.Reader {
	br := readers.Get().(*bufio.Reader)
	br.Reset(data)
	return br
}

func putReader(br *bufio.Reader) {
	br.Reset(nil) // drop data
	readers.Put(br)
}
