package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"pkgstore/internal/client/logcheck"
	"pkgstore/internal/govern/translog"
)

func init() { subcommands = append(subcommands, newLogCmd) }

func newLogCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "log",
		Short: "The transparency log: make its key, monitor a store's log",
		Long: `The store's transparency log records every publication, yank and unyank
in the Go checksum database's format (docs/transparency.md).`,
	}
	cmd.AddCommand(newLogKeygenCmd(), newLogMonitorCmd())
	return cmd
}

func newLogKeygenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "keygen NAME",
		Short: "Print a new signer key (for serve --log-key FILE) and its verifier key (for clients)",
		Long: `Keygen prints two lines: the signer key, secret, to save in the file
serve --log-key reads, and the verifier key, public, that verify, mirror,
import and log monitor take as --log-key. NAME names the log in its signed
tree heads (the store's host name, say).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.ContainsAny(args[0], "+ \t\n") || args[0] == "" {
				return usageError("keygen: NAME must not be empty or contain '+' or spaces")
			}
			skey, vkey, err := translog.GenerateKey(args[0])
			if err != nil {
				return usageError("keygen: %v", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n%s\n", skey, vkey)
			return nil
		},
	}
}

func newLogMonitorCmd() *cobra.Command {
	var registryURL, logKey, stateDir string
	cmd := &cobra.Command{
		Use:   "monitor",
		Short: "Check that a store's log only grows and never publishes one revision twice",
		Long: `Monitor fetches the store's latest signed tree head, checks its signature
and that it extends the last head seen (kept in --state DIR; a consistency
proof; two heads of one size must be identical), reads and proves every
record, and checks that no NAME-VERSION is published twice with different
sha256 and that every yank names its publication's bytes. Exit 0 when all
holds (the new head is saved), 1 naming the first break, 5 when the store
cannot be reached.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if registryURL == "" || logKey == "" || stateDir == "" {
				return usageError("log monitor needs --registry, --log-key and --state")
			}
			v, err := translog.ParseVerifier(logKey)
			if err != nil {
				return usageError("--log-key: %v", err)
			}
			rep, err := logcheck.New(registryURL, v, nil).Monitor(cmd.Context(), stateDir)
			if err != nil {
				return fail(fmt.Errorf("log monitor: %w", err))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: tree of size %d (%s) extends the last seen (size %d); %d records proved, %d publications, none twice\n",
				rep.New.N, rep.New.Hash, rep.Old.N, rep.Records, rep.Publications)
			return nil
		},
	}
	cmd.Flags().StringVar(&registryURL, "registry", "", "the store's URL")
	cmd.Flags().StringVar(&logKey, "log-key", "", "the log's verifier key (pkgstore log keygen), or a file holding it")
	cmd.Flags().StringVar(&stateDir, "state", "", "folder keeping the last signed tree head seen")
	return cmd
}
