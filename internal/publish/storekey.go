package publish

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"pkgstore/internal/api"
)

// storeSigned is a publication signed with the store's key.
type storeSigned struct {
	served []byte      // the store's armored signature (NAME-VERSION.zip.sig)
	owner  []byte      // the owner's, verified, kept in the provenance record
	signer *api.Signer // the store key that made served
}

// storeSign signs the candidate's size bytes with Config.StoreKey; owner
// is the owner's signature, already verified against the keyring. The new
// signature is checked against the store key before it is used, so a
// store key that signs wrongly fails the publication (retried, then
// refused as internal) rather than serving a signature nobody can verify.
func (p *Publisher) storeSign(f *os.File, size int64, owner []byte) (*storeSigned, error) {
	k := p.cfg.StoreKey
	var buf bytes.Buffer
	if err := k.Sign(&buf, io.NewSectionReader(f, 0, size)); err != nil {
		return nil, fmt.Errorf("sign with the store key %s: %w", k.Fingerprint(), err)
	}
	signer, err := k.Keyring().Verify(io.NewSectionReader(f, 0, size), bytes.NewReader(buf.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("check the store key's signature: %w", err)
	}
	return &storeSigned{
		served: signer.Armored,
		owner:  owner,
		signer: &api.Signer{KeyID: signer.KeyID, Fingerprint: signer.Fingerprint},
	}, nil
}
