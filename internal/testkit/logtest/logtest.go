// Package logtest makes transparency-log keys for tests: a fresh signer
// and verifier pair in the formats serve --log-key and clients read.
package logtest

import (
	"crypto/rand"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// NewKey returns a new key pair for a log named name: the signer key's
// text (what serve --log-key reads from a file), and the signer and
// verifier made from it.
func NewKey(t testing.TB, name string) (skey string, s note.Signer, v note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	if s, err = note.NewSigner(skey); err != nil {
		t.Fatal(err)
	}
	if v, err = note.NewVerifier(vkey); err != nil {
		t.Fatal(err)
	}
	return skey, s, v
}
