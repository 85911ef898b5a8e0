package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"pkgstore/internal/signature"
)

func init() { subcommands = append(subcommands, newVerifyCmd) }

func newVerifyCmd() *cobra.Command {
	var (
		sigPath  string
		keyrings []string
	)
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check FILE's detached OpenPGP signature against trusted keys",
		Long: `Verify checks the detached signature of FILE (FILE.sig unless --signature
says otherwise, armored or binary) against the public keys in the keyring
files. It exits 0 and prints the signing key's id and fingerprint when the
signature is valid and made by a trusted key, 1 with the reason otherwise.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(keyrings) == 0 {
				return usageError("--keyring is required")
			}
			file := args[0]
			if sigPath == "" {
				sigPath = file + ".sig"
			}
			kr, err := signature.LoadKeyring(keyrings...)
			if err != nil {
				return &exitError{Code: 1, Err: err}
			}
			data, err := os.Open(file)
			if err != nil {
				return &exitError{Code: 1, Err: fmt.Errorf("verify: %w", err)}
			}
			defer data.Close()
			sig, err := os.Open(sigPath)
			if err != nil {
				return &exitError{Code: 1, Err: fmt.Errorf("verify: %w: %w", signature.ErrMissing, err)}
			}
			defer sig.Close()
			signer, err := kr.Verify(data, sig)
			if err != nil {
				return &exitError{Code: 1, Err: fmt.Errorf("%s: BAD: %w", file, err)}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s: good signature\n", file)
			fmt.Fprintf(out, "key id:      %s\n", signer.KeyID)
			fmt.Fprintf(out, "fingerprint: %s\n", signer.Fingerprint)
			ids := append([]string(nil), signer.UserIDs...)
			sort.Strings(ids)
			if len(ids) > 0 {
				fmt.Fprintf(out, "user ids:    %s\n", strings.Join(ids, "; "))
			}
			if !signer.Created.IsZero() {
				fmt.Fprintf(out, "signed at:   %s\n", signer.Created.UTC().Format("2006-01-02T15:04:05Z"))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&sigPath, "signature", "", "detached signature (default FILE.sig)")
	cmd.Flags().StringArrayVar(&keyrings, "keyring", nil, "file of trusted armored public keys (repeatable)")
	return cmd
}
