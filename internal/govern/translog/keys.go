package translog

import (
	"crypto/rand"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// GenerateKey returns a new signer key (secret: the file serve --log-key
// reads) and its verifier key (public: what clients pass as --log-key),
// in note's formats, for a log named name.
func GenerateKey(name string) (signer, verifier string, err error) {
	return note.GenerateKey(rand.Reader, name)
}

// LoadSigner reads a signer key file written from GenerateKey's output.
func LoadSigner(path string) (note.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read log signing key: %w", err)
	}
	s, err := note.NewSigner(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("log signing key %s: %w", path, err)
	}
	return s, nil
}

// ParseVerifier returns the verifier of a verifier key given as its text
// (name+hash+key) or as a file holding it.
func ParseVerifier(keyOrFile string) (note.Verifier, error) {
	text := strings.TrimSpace(keyOrFile)
	if data, err := os.ReadFile(keyOrFile); err == nil {
		text = strings.TrimSpace(string(data))
	}
	v, err := note.NewVerifier(text)
	if err != nil {
		return nil, fmt.Errorf("log verifier key: %w", err)
	}
	return v, nil
}
