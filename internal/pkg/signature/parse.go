package signature

import "fmt"

// Parsed is a signature read without being verified.
type Parsed struct {
	KeyID string // 16 hex digits of the issuer (sub)key
	// Armored is the signature as a store keeps it (see Signer.Armored):
	// the bytes given when they are one canonical armored block, else the
	// first packet armored anew.
	Armored []byte
}

// ParseArmored checks that sig is one armored detached OpenPGP signature
// (at most MaxSignatureSize bytes, naming its issuer) without verifying
// it against any key: for a signature kept as a record (an upstream's,
// verified elsewhere) whose key this side may not hold. Errors wrap
// ErrMissing or ErrMalformed.
func ParseArmored(sig []byte) (*Parsed, error) {
	pkts, issuer, armored, err := decode(sig)
	if err != nil {
		return nil, err
	}
	if !armored {
		return nil, fmt.Errorf("%w: not armored (want -----BEGIN PGP SIGNATURE-----, as gpg --armor --detach-sign writes)", ErrMalformed)
	}
	out, err := canonical(sig, pkts)
	if err != nil {
		return nil, err
	}
	return &Parsed{KeyID: fmt.Sprintf("%016X", issuer), Armored: out}, nil
}
