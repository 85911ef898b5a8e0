package main

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/storage/atomicfile"
)

func init() { subcommands = append(subcommands, newSignCmd) }

func newSignCmd() *cobra.Command {
	var keyPath, passFile string
	cmd := &cobra.Command{
		Use:   "sign FILE",
		Short: "Write FILE.sig, an armored detached OpenPGP signature of FILE",
		Long: `Sign writes FILE.sig next to FILE: an armored detached OpenPGP signature
(binary mode, SHA-512) over FILE's exact bytes, as GnuPG's
"gpg --armor --detach-sign" and elastic-package make.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyPath == "" {
				return usageError("--sign-key is required")
			}
			key, err := signature.LoadSigningKeyFile(keyPath, passFile)
			if err != nil {
				return &exitError{Code: 1, Err: err}
			}
			sig, err := signFile(args[0], key)
			if err != nil {
				return &exitError{Code: 1, Err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed %s with key %s\n", sig, key.Fingerprint())
			return nil
		},
	}
	// --sign-key, as build, mirror and sync-v1 name the same key; --key
	// was its name before (hidden, for one release).
	cmd.Flags().StringVar(&keyPath, "sign-key", "", "armored OpenPGP private key")
	cmd.Flags().StringVar(&keyPath, "key", "", "old name of --sign-key")
	_ = cmd.Flags().MarkDeprecated("key", "use --sign-key")
	cmd.Flags().StringVar(&passFile, "passphrase-file", "", "file holding the private key's passphrase")
	return cmd
}

// signFile writes path+".sig" (through a temporary file renamed into place)
// and returns its name.
func signFile(path string, key *signature.SigningKey) (string, error) {
	in, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	defer in.Close()
	dst := path + ".sig"
	err = atomicfile.Write(dst, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		if err := key.Sign(bw, in); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return "", fmt.Errorf("sign %s: %w", path, err)
	}
	return dst, nil
}
