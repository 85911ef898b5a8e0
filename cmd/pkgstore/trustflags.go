package main

import (
	"github.com/spf13/pflag"

	"pkgstore/internal/publish/indexsig"
	"pkgstore/internal/server"
)

// indexSigningFlags are the flags of whoever runs the indexer
// (docs/trust.md).
func indexSigningFlags(f *pflag.FlagSet, c *server.TrustConfig) {
	f.StringVar(&c.SigningKey, "index-signing-key", "", "armored OpenPGP private key file: sign a versioned, expiring statement of each index cursor and a snapshot of every zip (docs/trust.md)")
	f.StringVar(&c.SigningPassphraseFile, "index-signing-passphrase-file", "", "file holding the passphrase of --index-signing-key")
	f.DurationVar(&c.Validity, "index-validity", indexsig.DefaultValidity, "lifetime of each index statement; an idle store re-signs once half of it is gone")
}

// trustFlags are serve's: the signing flags and the replica's check.
func trustFlags(f *pflag.FlagSet, c *server.TrustConfig) {
	indexSigningFlags(f, c)
	f.StringArrayVar(&c.Keyrings, "index-keyring", nil, "file of armored OpenPGP public keys: load a new index cursor only if its signed statement verifies (not rolled back, files matching); an expired one turns /health to 503 (repeatable; docs/trust.md)")
}
