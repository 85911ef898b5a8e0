package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"pkgstore/internal/api"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/storage"
)

// upstreamSuffix names a candidate's queued upstream signature
// (Options.UpstreamSignature) beside its zip and .sig.
const upstreamSuffix = ".upstream.sig"

// upstreamFile names the upstream signature in reasons: the publishing
// API's form part.
const upstreamFile = "upstream_signature"

// upstreamSig is an upstream's signature kept in a revision's provenance.
type upstreamSig struct {
	armored []byte      // canonical armor
	signer  *api.Signer // nil when the store's keyring lacks the key
}

// checkUpstreamSize refuses, before anything is queued, an upstream
// signature that is too large or comes without the re-signed signature it
// is the provenance of.
func checkUpstreamSize(fileName string, sig, up []byte) *api.Reason {
	switch {
	case sig == nil:
		return &api.Reason{Check: api.CheckSignature, File: fileName + " " + upstreamFile, Message: "an upstream signature was sent without a signature: send the re-signed signature (the mirror operator's) as \"signature\" and the upstream's as \"upstream_signature\""}
	case len(up) > signature.MaxSignatureSize:
		return &api.Reason{Check: api.CheckSignature, File: fileName + " " + upstreamFile, Message: fmt.Sprintf("upstream signature is %d bytes, larger than %d", len(up), signature.MaxSignatureSize)}
	}
	return nil
}

// checkUpstream reads the candidate's queued upstream signature, if any,
// once its signature has verified: it must be one armored signature, and
// when the store's keyring holds its key it must verify over the zip
// (its signer is then recorded). One the keyring cannot check is kept as
// sent, canonically armored: the mirror operator verified it before
// re-signing.
func (p *Publisher) checkUpstream(ctx context.Context, f *os.File, size int64, s *api.Submission, zipName string, signed bool) (*upstreamSig, *api.Reason, error) {
	up, err := p.b.Internal.ReadAll(ctx, storage.QueueDir(s.ID)+zipName+upstreamSuffix)
	switch {
	case storage.IsNotFound(err):
		return nil, nil, nil
	case err != nil:
		return nil, nil, fmt.Errorf("read queued upstream signature: %w", err)
	}
	file := zipName + " " + upstreamFile
	if !signed {
		return nil, checkUpstreamSize(zipName, nil, up), nil
	}
	parsed, err := signature.ParseArmored(up)
	if err != nil {
		return nil, &api.Reason{Check: api.CheckSignature, File: file, Message: "the upstream signature is not one armored OpenPGP signature: " + err.Error()}, nil
	}
	signer, err := p.cfg.Keyring.Verify(io.NewSectionReader(f, 0, size), bytes.NewReader(up))
	switch {
	case err == nil:
		return &upstreamSig{armored: signer.Armored, signer: &api.Signer{KeyID: signer.KeyID, Fingerprint: signer.Fingerprint}}, nil, nil
	case errors.Is(err, signature.ErrUnknownKey):
		return &upstreamSig{armored: parsed.Armored}, nil, nil
	}
	return nil, &api.Reason{Check: api.CheckSignature, File: file, Message: "the upstream signature does not verify over the zip with the store's keyring: " + err.Error()}, nil
}
