package mirror

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"pkgstore/internal/pkg/signature"
)

// ErrResignTarget refuses a re-signing key (Config.ResignKey) on a run
// that writes a bundle or an OCI artifact: those carry the upstream's
// signatures as they are; the site's key re-signs where it lives, at
// import (ImportConfig.ResignKey) or in the store (serve
// --store-signing-key).
var ErrResignTarget = errors.New("--resign-key re-signs what is published into a store (--to URL): a bundle or an OCI artifact keeps the upstream's signatures; re-sign where the site key is, with import --resign-key, or with the store's own key (serve --store-signing-key)")

// ErrResignNeedsKeyring refuses an import that would re-sign packages
// whose upstream signatures it did not verify.
var ErrResignNeedsKeyring = errors.New("--resign-key needs --keyring (and --bundle-keyring): the upstream's signature of each package is verified before the package is re-signed")

// resign signs the size bytes of zip with key, as the upstream's
// signature (already verified) is replaced: the new signature is checked
// against key before it is used, and returned in the canonical armor a
// store keeps.
func resign(key *signature.SigningKey, zip *os.File, size int64) ([]byte, error) {
	var buf bytes.Buffer
	if err := key.Sign(&buf, io.NewSectionReader(zip, 0, size)); err != nil {
		return nil, fmt.Errorf("re-sign with %s: %w", key.Fingerprint(), err)
	}
	signer, err := key.Keyring().Verify(io.NewSectionReader(zip, 0, size), bytes.NewReader(buf.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("check the re-signed signature of %s: %w", key.Fingerprint(), err)
	}
	return signer.Armored, nil
}
