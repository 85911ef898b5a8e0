package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// maxSignatureFile bounds a detached signature read from disk: armored
// signatures are well under 4 KB.
const maxSignatureFile = 1 << 20

// signatureSuffixes are where a zip's detached signature is looked for:
// pkgstore sign and elastic-package write .sig, `gpg --armor
// --detach-sign` writes .asc.
var signatureSuffixes = []string{".sig", ".asc"}

// errNoSignature is returned (wrapped) when a zip has no signature beside
// it.
var errNoSignature = errors.New("no signature")

// findSignature reads the detached signature of zipPath: explicit when
// given, else zipPath.sig or zipPath.asc. Both present with different
// content is an error: which one was meant is unknown.
func findSignature(zipPath, explicit string) (path string, sig []byte, err error) {
	if explicit != "" {
		b, err := readSignatureFile(explicit)
		return explicit, b, err
	}
	var found []string
	var contents [][]byte
	for _, suf := range signatureSuffixes {
		p := zipPath + suf
		b, err := readSignatureFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", nil, err
		}
		found = append(found, p)
		contents = append(contents, b)
	}
	switch {
	case len(found) == 0:
		return "", nil, fmt.Errorf("%w for %s: neither %s nor %s exists (sign it with `pkgstore sign` or `gpg --armor --detach-sign`, or pass --signature FILE)",
			errNoSignature, zipPath, zipPath+signatureSuffixes[0], zipPath+signatureSuffixes[1])
	case len(found) == 2 && !bytes.Equal(contents[0], contents[1]):
		return "", nil, fmt.Errorf("both %s and %s exist and differ: pass --signature with the one to use", found[0], found[1])
	}
	return found[0], contents[0], nil
}

func readSignatureFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("read signature: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read signature: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("signature %s is not a regular file", p)
	}
	if fi.Size() > maxSignatureFile {
		return nil, fmt.Errorf("signature %s is %d bytes: larger than %d, it is not a detached signature", p, fi.Size(), maxSignatureFile)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read signature: %w", err)
	}
	return b, nil
}
