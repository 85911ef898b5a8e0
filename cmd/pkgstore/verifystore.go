package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"pkgstore/internal/api"
	"pkgstore/internal/pkg/signature"
)

// printStoreSigned shows, for a revision the store signed with its own
// key, the store key and the owner's signature kept in the provenance,
// checked against the keyring when it holds the owner's key.
func printStoreSigned(out io.Writer, rep *verifyReport, file string, rev *api.Revision, kr *signature.Keyring) {
	if rev.StoreSigner == nil {
		return
	}
	fmt.Fprintf(out, "  store key:   %s (key id %s: the signature served)\n", rev.StoreSigner.Fingerprint, rev.StoreSigner.KeyID)
	if rev.OwnerSignature == "" {
		fmt.Fprintln(out, "  owner signature: not kept")
		return
	}
	f, err := os.Open(file)
	if err != nil {
		return
	}
	defer f.Close()
	s, err := kr.Verify(f, strings.NewReader(rev.OwnerSignature))
	if err != nil {
		rep.OwnerSignature = "not checked: " + err.Error()
		fmt.Fprintf(out, "  owner signature: kept, not verified with --keyring: %v\n", err)
		return
	}
	rep.OwnerSignature = "good: " + s.Fingerprint
	fmt.Fprintf(out, "  owner signature: good, by %s\n", s.Fingerprint)
}

// storeSignedBy names the store key of a store-signed revision in an
// error message.
func storeSignedBy(rev *api.Revision) string {
	if rev.StoreSigner == nil {
		return ""
	}
	return " (served signature by the store key " + rev.StoreSigner.Fingerprint + ")"
}
