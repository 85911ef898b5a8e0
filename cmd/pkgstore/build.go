package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"pkgstore/internal/build"
	"pkgstore/internal/readme"
	"pkgstore/internal/signature"
	"pkgstore/internal/validate"
)

func init() { subcommands = append(subcommands, newBuildCmd) }

func newBuildCmd() *cobra.Command {
	var (
		outDir, signKey, passFile string
		skipValidation            bool
		checkReadme               bool
		linksFile                 string
	)
	cmd := &cobra.Command{
		Use:   "build DIR",
		Short: "Build a package folder into a deterministic NAME-VERSION.zip (and sign it)",
		Long: `Build validates the package in DIR, then zips it into OUTDIR/NAME-VERSION.zip
with one root folder NAME-VERSION/. _dev, build and .git folders and editor
files are left out; *.link files are replaced by their (checksum-checked)
targets. The same input always gives the same bytes.

With --sign-key, OUTDIR/NAME-VERSION.zip.sig is written too: an armored
detached OpenPGP signature of the zip.

READMEs: each template _dev/build/docs/NAME.md is rendered into
docs/NAME.md first (in DIR, as elastic-package does) and so into the zip.
With --check-readme nothing is built or written: the command fails (exit 1),
naming each one, when a committed docs/NAME.md differs from what its
template renders.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			dir := args[0]
			if passFile != "" && signKey == "" {
				return usageError("--passphrase-file needs --sign-key")
			}
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				return usageError("%s is not a package folder", dir)
			}
			if checkReadme {
				if signKey != "" {
					return usageError("--check-readme builds nothing: it cannot be used with --sign-key")
				}
				return checkReadmes(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), dir, readmeOptions(linksFile))
			}
			// Load the key first: a wrong passphrase should not cost a build.
			var key *signature.SigningKey
			if signKey != "" {
				k, err := signature.LoadSigningKeyFile(signKey, passFile)
				if err != nil {
					return &exitError{Code: 1, Err: err}
				}
				key = k
			}
			if err := renderReadmes(ctx, cmd.OutOrStdout(), dir, readmeOptions(linksFile)); err != nil {
				return &exitError{Code: 1, Err: err}
			}
			if !skipValidation {
				abs, err := filepath.Abs(dir)
				if err != nil {
					return &exitError{Code: 1, Err: err}
				}
				problems, err := validate.Package(ctx, os.DirFS(abs), validate.Options{Mode: validate.ModeSource, Dir: abs})
				if err != nil {
					return &exitError{Code: 1, Err: fmt.Errorf("validate %s: %w", dir, err)}
				}
				if len(problems) > 0 {
					for _, p := range problems {
						fmt.Fprintln(cmd.ErrOrStderr(), p.String())
					}
					return &exitError{Code: 1, Err: fmt.Errorf("%s: %d validation problem(s); fix them or use --skip-validation", dir, len(problems))}
				}
			}
			res, err := build.Package(ctx, dir, outDir)
			if err != nil {
				return &exitError{Code: 1, Err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "built %s (%d files, %d bytes, sha256 %s)\n", res.Path, res.Stats.Files, res.Size, res.SHA256)
			if key != nil {
				sig, err := signFile(res.Path, key)
				if err != nil {
					return &exitError{Code: 1, Err: err}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "signed %s with key %s\n", sig, key.Fingerprint())
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&outDir, "output", "o", filepath.Join("build", "packages"), "folder for NAME-VERSION.zip (and .sig)")
	f.StringVar(&signKey, "sign-key", "", "armored OpenPGP private key: also write NAME-VERSION.zip.sig")
	f.StringVar(&passFile, "passphrase-file", "", "file holding the private key's passphrase")
	f.BoolVar(&skipValidation, "skip-validation", false, "do not validate the package against the package-spec first")
	f.BoolVar(&checkReadme, "check-readme", false, "only check that docs/*.md are what _dev/build/docs/*.md render; build and write nothing")
	f.StringVar(&linksFile, "links-file", "", "links table for the url template function (default $"+readme.LinksFileEnv+", else links_table.yml at the repository root)")
	return cmd
}
