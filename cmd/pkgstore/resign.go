package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"pkgstore/internal/govern/audit"
	"pkgstore/internal/govern/resign"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/storage"
)

func init() { subcommands = append(subcommands, newResignCmd) }

func newResignCmd() *cobra.Command {
	var (
		cfg      storage.Config
		key      storeKeyFlags
		keyrings []string
		dryRun   bool
		format   string
		logLevel string
	)
	cmd := &cobra.Command{
		Use:   "resign --key NEW",
		Short: "Re-sign every served signature with a new store key (key rotation)",
		Long: `Resign replaces the signature served beside every published zip
(NAME-VERSION.zip.sig) with one made by the store key NEW (an armored
private key), the rotation of the key Kibana verifies packages with
(docs/operators-governance.md, "The store key": the order of the steps).

A zip is re-signed only when its sha256 is still the one published and
something trusted vouches for it: the served signature, made by a key of
--keyring (the current store key's public key, the owners' keys) or by
NEW itself (an older subkey), or else the owner's signature kept in the
revision's provenance. A zip nothing vouches for is left as it is,
reported and recorded in the audit log (resign_refused). A signature
already made by NEW's signing key is skipped; unsigned revisions stay
unsigned. Each revision re-signed is recorded in the audit log (resigned).

The run is resumable: its progress is kept in the internal bucket, and a
run with the same key continues after the last revision done. Running it
again once done re-checks everything and skips what NEW signed.

Exit codes: 0 every signed revision is signed by NEW, 1 some were refused
(one line each), 2 usage or a key file missing, 5 a bucket cannot be read
or written (run it again: it resumes).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			log, err := newLogger(logLevel)
			if err != nil {
				return err
			}
			if key.path == "" {
				return usageError("--key is required: the new store key (armored private key)")
			}
			k, err := key.load("key")
			if err != nil {
				return err
			}
			var trusted *signature.Keyring
			if len(keyrings) > 0 {
				if trusted, err = signature.LoadKeyring(keyrings...); err != nil {
					return usageError("--keyring: %v", err)
				}
			}
			cfg.MustExist = true // a wrong --data is an error, not an empty store
			b, err := storage.Open(cmd.Context(), cfg)
			if err != nil {
				return fail(err)
			}
			defer b.Close()
			res, err := resign.Run(cmd.Context(), resign.Config{
				Buckets: b, Key: k, Trusted: trusted, Audit: audit.New(b.Internal),
				Client: "pkgstore resign", DryRun: dryRun, Logger: log,
			})
			switch {
			case err == nil:
			case errors.Is(err, resign.ErrRefused):
				err = &exitError{Code: 1, Err: err}
			default:
				err = unreachable(err)
			}
			if res != nil {
				if format == "json" {
					if res.Items == nil {
						res.Items = []resign.Item{}
					}
					rep := resignReport{Result: res, ExitCode: exitCodeOf(err)}
					if err != nil {
						rep.Error = err.Error()
					}
					if werr := writeJSON(cmd.OutOrStdout(), rep); werr != nil {
						return werr
					}
				} else {
					printResign(cmd, res, dryRun)
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	storageFlags(f, &cfg)
	key.add(f, "key", "the new store key: armored OpenPGP private key (required)")
	f.StringArrayVar(&keyrings, "keyring", nil, "armored public keys whose signatures vouch for a zip: the current store key's, the owners' (repeatable)")
	f.BoolVar(&dryRun, "dry-run", false, "check every revision and say what would be done; write nothing")
	addFormat(f, &format)
	f.StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error")
	return cmd
}

// resignReport is resign --format json's document.
type resignReport struct {
	*resign.Result
	Error    string `json:"error,omitempty"`
	ExitCode int    `json:"exit_code"`
}

func printResign(cmd *cobra.Command, res *resign.Result, dryRun bool) {
	out := cmd.OutOrStdout()
	for _, it := range res.Items {
		switch it.Outcome {
		case resign.Refused:
			fmt.Fprintf(out, "refused  %s-%s: %s\n", it.Package, it.Version, it.Detail)
		case resign.Resigned:
			fmt.Fprintf(out, "resigned %s-%s (vouched by the %s)\n", it.Package, it.Version, it.Detail)
		}
	}
	what := "done"
	if dryRun {
		what = "dry run"
	} else if res.Resumed {
		what = "done (resumed run " + res.Run + ")"
	}
	fmt.Fprintf(out, "%s: key %s (signing key %s): %d re-signed, %d already signed by it, %d unsigned, %d refused\n",
		what, res.KeyFingerprint, res.SigningKeyID, res.Resigned, res.Skipped, res.Unsigned, res.Refused)
}
