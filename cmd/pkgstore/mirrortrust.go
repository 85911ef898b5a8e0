package main

import (
	"github.com/spf13/pflag"

	"pkgstore/internal/client/mirror"
	"pkgstore/internal/pkg/signature"
)

// mirrorIndexFlags are mirror's flags of the upstream's signed index
// (docs/trust.md).
type mirrorIndexFlags struct {
	keyrings []string
	state    string
}

func (m *mirrorIndexFlags) add(f *pflag.FlagSet) {
	f.StringArrayVar(&m.keyrings, "index-keyring", nil, "armored public keys the upstream signs its index with: verify its signed snapshot, refuse one older than the last seen and any zip whose sha256 or size differs from it (repeatable; docs/trust.md)")
	f.StringVar(&m.state, "index-state", "", "file keeping the newest upstream index statement this mirror saw, to refuse rollbacks (default BUNDLE.index-state.json; required with --to)")
}

// check returns the run's index check (nil without --index-keyring).
func (m *mirrorIndexFlags) check(bundle string) (*mirror.IndexCheck, error) {
	if len(m.keyrings) == 0 {
		if m.state != "" {
			return nil, usageError("--index-state needs --index-keyring")
		}
		return nil, nil
	}
	if m.state == "" && bundle == "" {
		return nil, usageError("--index-keyring needs --index-state FILE (where the newest statement seen is kept) unless --bundle")
	}
	kr, err := signature.LoadKeyring(m.keyrings...)
	if err != nil {
		return nil, usageError("--index-keyring: %v", err)
	}
	return &mirror.IndexCheck{Keyring: kr, StateFile: m.state}, nil
}
