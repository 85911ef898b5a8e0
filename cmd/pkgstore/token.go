package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"pkgstore/internal/govern/tokens"
)

func init() { subcommands = append(subcommands, newTokenCmd) }

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage the tokens of --tokens-file",
		Args:  cobra.NoArgs,
	}
	var (
		scopes   []string
		packages []string
		expires  string
	)
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Make a new token: print its secret once and the entry to add to the tokens file",
		Long: `Create prints a new random secret (shown only now: hand it to the token's
owner) and the YAML entry to append under "tokens:" in the --tokens-file. The
file holds only the secret's SHA-256; a running server picks the change up
within seconds, or at once on SIGHUP.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var exp *time.Time
			if expires != "" {
				t, err := tokens.ParseExpiry(expires, time.Now())
				if err != nil {
					return usageError("--expires: %v", err)
				}
				exp = &t
			}
			sc := make([]tokens.Scope, len(scopes))
			for i, s := range scopes {
				sc[i] = tokens.Scope(s)
			}
			secret := tokens.NewSecret()
			t, err := tokens.New(args[0], secret, sc, packages, exp)
			if err != nil {
				return usageError("%v", err)
			}
			entry, err := t.YAML()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "secret (shown once, give it to the token's owner):\n\n    %s\n\n", secret)
			fmt.Fprintf(out, "add to the tokens file, under \"tokens:\":\n\n%s", entry)
			return nil
		},
	}
	f := create.Flags()
	f.StringSliceVar(&scopes, "scope", nil, "publish, yank, audit or admin (repeatable or comma-separated)")
	f.StringArrayVar(&packages, "packages", nil, "package-name pattern such as 'aws*' or 'cisco_*' (repeatable; '*' for all)")
	f.StringVar(&expires, "expires", "", "expiry: days (90d), a duration (36h) or a date (2027-01-31)")
	cmd.AddCommand(create)
	return cmd
}
