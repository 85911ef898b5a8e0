package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"pkgstore/internal/builder"
	"pkgstore/internal/builder/ecs"
	"pkgstore/internal/builder/readme"
	"pkgstore/internal/pkg/signature"
)

func init() { subcommands = append(subcommands, newBuildCmd) }

func newBuildCmd() *cobra.Command {
	var (
		outDir, signKey, passFile string
		ecsBase, registry         string
		registryKeyrings          []string
		skipValidation            bool
		checkReadme               bool
		linksFile                 string
		format                    string
	)
	cmd := &cobra.Command{
		Use:   "build [DIR]",
		Short: "Build a package folder into a deterministic NAME-VERSION.zip (and sign it)",
		Long: `Build performs elastic-package's build steps on the source package in DIR and
zips the result into OUTDIR/NAME-VERSION.zip with one root folder
NAME-VERSION/: _dev, build and .git folders and editor files are left out;
*.link files are replaced by their (checksum-checked) targets; the
repository's LICENSE.txt is added when the package has none; Kibana saved
objects are encoded; fields marked "external: ecs" are resolved from the ECS
reference in _dev/build/build.yml (downloaded once from --ecs-base-url and
cached in the user cache folder; a file:// base reads a local folder); ECS
dynamic templates are added when import_mappings is set; transforms are
rendered; templates of the input packages in requires.input are bundled
(downloaded from --input-registry). Last, the zip is validated as the publishing
job validates it (package-spec, build mode); a refused zip is not kept.
The same input always gives the same bytes.

READMEs: each template _dev/build/docs/NAME.md is rendered, as
elastic-package renders it, into DIR/docs/NAME.md and the zip's docs/NAME.md.
With --check-readme nothing is built or written: the command fails (exit 1),
naming each one, when a committed docs/NAME.md differs from what its
template renders.

With --sign-key, OUTDIR/NAME-VERSION.zip.sig is written too: an armored
detached OpenPGP signature of the zip.

Without DIR, the package is the one holding the current folder (the nearest
folder at or above it whose manifest.yml is a package's, as elastic-package
finds it), and, unless -o is given, the zip goes to build/packages at the
root of the git repository holding it (else of the current folder).

The ECS base URL is --ecs-base-url, else $` + ecs.BaseURLEnv + `, else
$` + ecs.ElasticPackageBaseURLEnv + `, else ` + ecs.DefaultBaseURL + `.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var dir string
			if len(args) == 1 {
				dir = args[0]
			} else {
				root, err := builder.FindPackageRoot(".")
				if err != nil {
					return usageError("no DIR given and %v; run it inside a package or name its folder", err)
				}
				dir = root
				if repo := builder.FindRepoRoot(root); repo != "" && !cmd.Flags().Changed("output") {
					outDir = filepath.Join(repo, "build", "packages")
				}
			}
			if passFile != "" && signKey == "" {
				return usageError("--passphrase-file needs --sign-key")
			}
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				return usageError("%s is not a package folder", dir)
			}
			if ecsBase == "" {
				ecsBase = ecs.BaseURLFromEnv(os.Getenv)
			}
			cfg := builder.Config{
				ECS:            &ecs.Resolver{BaseURL: ecsBase},
				Registry:       registry,
				SkipValidation: skipValidation,
				LinksFile:      linksFile,
			}
			if checkReadme {
				if signKey != "" {
					return usageError("--check-readme builds nothing: it cannot be used with --sign-key")
				}
				return checkReadmes(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), dir, cfg.Readme(dir))
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
			if len(registryKeyrings) > 0 {
				kr, err := signature.LoadKeyring(registryKeyrings...)
				if err != nil {
					return &exitError{Code: 1, Err: err}
				}
				cfg.InputKeyring = kr
			}
			if err := checkFormat(format); err != nil {
				return err
			}
			res, err := builder.Package(ctx, dir, outDir, cfg)
			var verr *builder.ValidationError
			if errors.As(err, &verr) {
				for _, p := range verr.Problems {
					fmt.Fprintln(cmd.ErrOrStderr(), p.String())
				}
				return &exitError{Code: 1, Err: fmt.Errorf("%s: %d validation problem(s) in the built package; fix them or use --skip-validation", dir, len(verr.Problems))}
			}
			if err != nil {
				return &exitError{Code: 1, Err: err}
			}
			text := cmd.OutOrStdout()
			if format == "json" {
				text = io.Discard
			}
			built := buildReport{Path: res.Path, Files: res.Stats.Files, Size: res.Size, SHA256: res.SHA256}
			fmt.Fprintf(text, "built %s (%d files, %d bytes, sha256 %s)\n", res.Path, res.Stats.Files, res.Size, res.SHA256)
			if key != nil {
				sig, err := signFile(res.Path, key)
				if err != nil {
					return &exitError{Code: 1, Err: err}
				}
				built.Signature, built.SignedBy = sig, key.Fingerprint()
				fmt.Fprintf(text, "signed %s with key %s\n", sig, key.Fingerprint())
			}
			if format == "json" {
				return writeJSON(cmd.OutOrStdout(), built)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&outDir, "output", "o", filepath.Join("build", "packages"), "folder for NAME-VERSION.zip (and .sig)")
	f.StringVar(&signKey, "sign-key", "", "armored OpenPGP private key: also write NAME-VERSION.zip.sig")
	f.StringVar(&passFile, "passphrase-file", "", "file holding the private key's passphrase")
	f.BoolVar(&skipValidation, "skip-validation", false, "do not validate the built package against the package-spec")
	f.StringVar(&ecsBase, "ecs-base-url", "", "where ECS schemas come from: BASE/REF/generated/ecs/ecs_nested.yml (http(s):// or file:///folder; default $"+ecs.BaseURLEnv+", else $"+ecs.ElasticPackageBaseURLEnv+", else "+ecs.DefaultBaseURL+")")
	// --registry is the target everywhere else (publish, yank, audit):
	// here the upstream of requires.input is --input-registry; the old
	// names stay, hidden, for one release.
	f.StringVar(&registry, "input-registry", builder.DefaultRegistry, "package registry the input packages of requires.input are downloaded from")
	f.StringVar(&registry, "registry", builder.DefaultRegistry, "old name of --input-registry")
	_ = f.MarkDeprecated("registry", "use --input-registry (--registry is where publish sends packages)")
	f.BoolVar(&checkReadme, "check-readme", false, "only check that docs/*.md are what _dev/build/docs/*.md render; build and write nothing")
	addFormat(f, &format)
	f.StringVar(&linksFile, "links-file", "", "links table of the url template function in READMEs (default $"+readme.LinksFileEnv+", else links_table.yml at the repository root)")
	f.StringArrayVar(&registryKeyrings, "input-registry-keyring", nil, "armored public keys the input packages' signatures (from --input-registry) must verify against (repeatable); without it they are not verified")
	f.StringArrayVar(&registryKeyrings, "registry-keyring", nil, "old name of --input-registry-keyring")
	_ = f.MarkDeprecated("registry-keyring", "use --input-registry-keyring")
	return cmd
}
