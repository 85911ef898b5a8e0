package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/pflag"

	"pkgstore/internal/pkg/signature"
)

// storeKeyFlags are a store signing key's flags: the armored private key
// file and the file of its passphrase.
type storeKeyFlags struct {
	path, passphraseFile string
	passFlag             string // the passphrase flag's name (add sets it)
}

// add registers the flags as --NAME and --NAME-passphrase-file.
func (k *storeKeyFlags) add(f *pflag.FlagSet, name, usage string) {
	k.addAs(f, name, name+"-passphrase-file", usage)
}

// addAs registers the flags as --NAME and --PASSNAME.
func (k *storeKeyFlags) addAs(f *pflag.FlagSet, name, passName, usage string) {
	k.passFlag = passName
	f.StringVar(&k.path, name, "", usage)
	f.StringVar(&k.passphraseFile, passName, "", "file holding the passphrase of --"+name+" when it is encrypted (first line)")
}

// load reads the key (nil when the flag is empty) and checks that it can
// sign now: a missing or unreadable file is a usage error (2), a file that
// is not a usable private key is refused (1) with the reason.
func (k *storeKeyFlags) load(name string) (*signature.SigningKey, error) {
	if k.path == "" {
		if k.passphraseFile != "" {
			return nil, usageError("--%s without --%s", k.passFlag, name)
		}
		return nil, nil
	}
	for _, p := range []string{k.path, k.passphraseFile} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			return nil, usageError("--%s: %v", name, err)
		}
	}
	key, err := signature.LoadStoreKey(k.path, k.passphraseFile, time.Now())
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, usageError("--%s: %v", name, err)
		}
		return nil, &exitError{Code: 1, Err: fmt.Errorf("--%s: %w", name, err)}
	}
	return key, nil
}
