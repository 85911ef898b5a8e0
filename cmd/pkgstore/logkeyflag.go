package main

import (
	"context"

	"github.com/spf13/pflag"

	"pkgstore/internal/client/logcheck"
	"pkgstore/internal/govern/translog"
	"pkgstore/internal/pkg/packageid"
)

// logKeyFlag is the --log-key of mirror and import: the verifier key of
// the transparency log that must prove each revision.
type logKeyFlag struct{ key string }

func (l *logKeyFlag) add(f *pflag.FlagSet, whose string) {
	f.StringVar(&l.key, "log-key", "", "transparency log verifier key (pkgstore log keygen), or a file holding it: "+whose)
}

// checker returns the check of each revision against the log of the
// store at registry, or nil without --log-key.
func (l *logKeyFlag) checker(registry string) (func(context.Context, packageid.ID, string) error, error) {
	if l.key == "" {
		return nil, nil
	}
	v, err := translog.ParseVerifier(l.key)
	if err != nil {
		return nil, usageError("--log-key: %v", err)
	}
	c := logcheck.New(registry, v, nil)
	return func(ctx context.Context, id packageid.ID, sha256 string) error {
		_, err := c.CheckRevision(ctx, id, sha256)
		return err
	}, nil
}
