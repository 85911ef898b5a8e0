package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"pkgstore/internal/client"
	"pkgstore/internal/client/exitcode"
	"pkgstore/internal/client/mirror"
	"pkgstore/internal/client/progress"
	"pkgstore/internal/pkg/signature"
)

func init() { subcommands = append(subcommands, newMirrorCmd, newImportCmd) }

func newMirrorCmd() *cobra.Command {
	var (
		cfg                             mirror.Config
		keyrings                        []string
		toURL, token, signKey, passFile string
		maxZip, minRate, format         string
		mirrorLog                       logKeyFlag
		plainHTTP                       bool
		indexFlags                      mirrorIndexFlags
		resign                          storeKeyFlags
	)
	cmd := &cobra.Command{
		Use:   "mirror --from URL (--to URL --token T [--resign-key KEY] | --to oci://HOST/REPO:TAG | --bundle FILE [--since OLD]) --keyring KEY",
		Short: "Copy revisions from an EPR-compatible registry into a store or a signed offline bundle",
		Long: `mirror selects revisions as Fleet would, by asking the upstream's own /search
with the given filters, keeps the newest --latest N versions of each package
(or every version with --all-versions), downloads each zip and signature and
verifies the signature against --keyring before anything is written.

--to URL --token T publishes into a store through its publishing API, as
legacy packages (signature and zip checked, package-spec not: the mirror holds
exactly what the upstream serves). The store's keyring must hold the
upstream's key.

--bundle FILE writes one tar: manifest.json (selection, source, time, and per
revision name, version, size, sha256), manifest.json.sig with --sign-key, and
packages/NAME-VERSION.zip(.sig). Until it is complete the downloads are kept
in FILE.partial/ beside it; an interrupted run continues from there.
--since OLD (a bundle, or its extracted manifest.json) makes an incremental
bundle: only the revisions OLD and the bundles before it lack, and in the
manifest which bundle it follows; import checks the chain.

--to oci://HOST[:PORT]/REPO:TAG pushes the selection to an OCI registry as
one artifact: manifest.json (and its signature with --sign-key) and each
revision's zip and signature as blobs of their own, so a push uploads only
the blobs the registry lacks (asked with HEAD). Credentials come from the
Docker config file ($DOCKER_CONFIG or ~/.docker/config.json, as docker
login writes it); --plain-http talks HTTP to a registry without TLS.

--resign-key FILE (with --to URL) re-signs each revision with the site's
key once its upstream signature has verified against --keyring: the store
serves the site's signature, and keeps the upstream's as provenance
(upstream_signature), so a Kibana holding the site's key alone verifies
the mirrored packages. The store's keyring must hold the site's key. A
bundle or an OCI artifact keeps the upstream's signatures: re-sign there
with import --resign-key, or with the store's --store-signing-key.

Every download is bounded: a zip over --max-zip-size is refused (a bundle
run then stops: the bundle cannot be made), one revision takes at most
--revision-timeout, an attempt slower than --min-rate bytes a second over
30 s is cut (and retried), and a signature that is not one by a --keyring
key is refused before its zip is downloaded.

A second run transfers nothing: the store is asked with HEAD, the bundle's
manifest is read. Exit codes (README): 0 done, 1 some revision failed or was
refused (run again to retry those that failed for another reason than
verification), 2 usage error, 4 the target refused the token, 5 the upstream
or the target unreachable (run again to resume). --format json: one document
on stdout, the lines on stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case checkFormat(format) != nil:
				return checkFormat(format)
			case cfg.From == "":
				return usageError("--from URL is required")
			case toURL != "" && cfg.Bundle != "", toURL == "" && cfg.Bundle == "" && !cfg.DryRun:
				return usageError("give one of --to URL and --bundle FILE (--dry-run may have neither)")
			case cfg.Since != "" && cfg.Bundle == "":
				return usageError("--since makes an incremental bundle: it needs --bundle")
			case plainHTTP && !mirror.IsOCI(toURL):
				return usageError("--plain-http is for --to oci://")
			case len(keyrings) == 0:
				return usageError("--keyring is required: the upstream's public key (Elastic's for epr.elastic.co)")
			case signKey != "" && cfg.Bundle == "" && !mirror.IsOCI(toURL):
				return usageError("--sign-key signs a bundle's manifest: it needs --bundle or --to oci://")
			case passFile != "" && signKey == "":
				return usageError("--passphrase-file needs --sign-key")
			case resign.path != "" && (cfg.Bundle != "" || mirror.IsOCI(toURL)):
				return usageError("%v", mirror.ErrResignTarget)
			}
			var err error
			if cfg.MaxZipSize, err = parseSize(maxZip); err != nil || cfg.MaxZipSize <= 0 {
				return usageError("--max-zip-size: %v", err)
			}
			if cfg.MinRate, err = parseSize(minRate); err != nil {
				return usageError("--min-rate: %v", err)
			}
			if cfg.MinRate == 0 {
				cfg.MinRate = -1 // 0 turns the cut off
			}
			if cmd.Flags().Changed("latest") && cfg.Filters.Latest < 1 {
				return usageError("--latest must be at least 1")
			}
			if err := cfg.Filters.Check(); err != nil {
				return usageError("%v", err)
			}
			if cfg.Keyring, err = signature.LoadKeyring(keyrings...); err != nil {
				return usageError("%v", err)
			}
			if cfg.CheckLogged, err = mirrorLog.checker(cfg.From); err != nil {
				return err
			}
			if cfg.Index, err = indexFlags.check(cfg.Bundle); err != nil {
				return err
			}
			if mirror.IsOCI(toURL) {
				if _, err := mirror.ParseOCIRef(toURL, plainHTTP); err != nil {
					return usageError("--to: %v", err)
				}
				cfg.OCI = &mirror.OCITarget{Ref: toURL, PlainHTTP: plainHTTP}
			} else if toURL != "" {
				if err := needRegistry(toURL, &token, true); err != nil {
					return err
				}
				if cfg.To, err = client.New(toURL, token); err != nil {
					return usageError("%v", err)
				}
			}
			if signKey != "" {
				if cfg.SignKey, err = signature.LoadSigningKeyFile(signKey, passFile); err != nil {
					return usageError("%v", err)
				}
			}
			if cfg.ResignKey, err = resign.load("resign-key"); err != nil {
				return err
			}
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			lines := out
			if format == "json" {
				lines = errOut
			}
			if !cfg.DryRun {
				cfg.Reporter = reporter("mirror", lines, errOut)
			}
			sum, err := mirror.Run(cmd.Context(), cfg)
			exit := mirrorExit(sum, err)
			dest := cfg.Bundle
			if cfg.OCI != nil {
				dest = cfg.OCI.Ref
			}
			if format == "json" {
				return writeRunReport(out, mirrorReport("mirror", sum, cfg.DryRun, dest), exit)
			}
			if sum != nil {
				writeMirrorSummary(out, "mirror", sum, cfg.DryRun, cfg.Bundle)
				if cfg.OCI != nil && exit == nil {
					fmt.Fprintf(out, "  pushed %s: %d blobs uploaded, %d already in the registry (zips %s)\n", cfg.OCI.Ref, sum.OCIBlobsUploaded, sum.OCIBlobsPresent, progress.HumanBytes(sum.BundleZipBytes))
				}
			}
			return exit
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.From, "from", "", "upstream registry, e.g. https://epr.elastic.co")
	mirrorLog.add(f, "every revision downloaded must be in --from's log with its sha256")
	f.StringVar(&toURL, "to", "", "target store's base URL (publishing API), or oci://HOST[:PORT]/REPO:TAG (an OCI registry)")
	f.BoolVar(&plainHTTP, "plain-http", false, "talk HTTP, not HTTPS, to the --to oci:// registry (loopback registries)")
	f.StringVar(&cfg.Since, "since", "", "with --bundle: write only the revisions this older bundle (or its manifest.json) and its predecessors lack")
	f.StringVar(&token, "token", "", "target store's publishing token (default $PKGSTORE_TOKEN, then $PKGSTORE_PUBLISH_TOKEN)")
	f.StringVar(&cfg.Bundle, "bundle", "", "write an offline bundle FILE instead")
	f.StringArrayVar(&keyrings, "keyring", nil, "armored public keys the upstream signs with (repeatable)")
	indexFlags.add(f)
	f.StringVar(&signKey, "sign-key", "", "armored private key (an operator's, not a package signer's) that signs the bundle's manifest; import checks it with --bundle-keyring")
	f.StringVar(&passFile, "passphrase-file", "", "file holding --sign-key's passphrase")
	resign.addAs(f, "resign-key", "resign-passphrase-file", "with --to URL: armored private key of the site that re-signs each revision once its upstream signature verified (the upstream's is kept as provenance)")
	fl := &cfg.Filters
	f.StringVar(&fl.KibanaVersion, "kibana-version", "", "only revisions compatible with this Kibana (kibana.version)")
	f.StringVar(&fl.AgentVersion, "agent-version", "", "only revisions compatible with this Elastic Agent (agent.version)")
	f.StringVar(&fl.SpecMin, "spec-min", "", "lowest package-spec version (spec.min, e.g. 2.3)")
	f.StringVar(&fl.SpecMax, "spec-max", "", "highest package-spec version (spec.max)")
	f.StringSliceVar(&fl.Capabilities, "capabilities", nil, "capabilities the deployment has (comma-separated)")
	f.BoolVar(&fl.Prerelease, "prerelease", false, "include prerelease versions")
	f.StringVar(&fl.Category, "category", "", "only this category")
	f.StringVar(&fl.Type, "type", "", "only this package type (integration, input, content)")
	f.StringArrayVar(&fl.Packages, "package", nil, "package name or glob, e.g. 'aws*' (repeatable; default every package)")
	f.IntVar(&fl.Latest, "latest", 1, "newest versions kept per package")
	f.BoolVar(&fl.AllVersions, "all-versions", false, "every version that matches the filters")
	f.IntVar(&cfg.Workers, "workers", 0, "revisions downloaded at once (default GOMAXPROCS, at least 2)")
	f.DurationVar(&cfg.Timeout, "timeout", 5*time.Minute, "one attempt at one download; longer is retried")
	f.BoolVar(&cfg.DryRun, "dry-run", false, "list what would be mirrored, with sizes, and write nothing")
	f.StringVar(&maxZip, "max-zip-size", "251MB", "largest zip downloaded (serve's --max-upload-size default)")
	f.DurationVar(&cfg.RevisionTimeout, "revision-timeout", mirror.DefaultRevisionTimeout, "one revision in all: signature, zip and retries")
	f.StringVar(&minRate, "min-rate", "16KB", "slowest transfer kept, a second over 30 s (0: no cut)")
	addFormat(f, &format)
	return cmd
}

func newImportCmd() *cobra.Command {
	var (
		cfg                mirror.ImportConfig
		keyrings           []string
		bundleKeyrings     []string
		registryURL, token string
		format             string
		importLog          logKeyFlag
		plainHTTP          bool
		resign             storeKeyFlags
	)
	cmd := &cobra.Command{
		Use:   "import BUNDLE... --registry URL --token T [--bundle-keyring OPKEY --keyring KEY [--resign-key SITEKEY]]",
		Short: "Publish an offline bundle (from pkgstore mirror --bundle) into a store",
		Long: `import checks the whole bundle first: with --bundle-keyring, the
manifest's signature against the keys of the operators who sign bundles
(mirror --sign-key); with --keyring, every package's signature against the
publishers' keys. They are two trust roles: --keyring without
--bundle-keyring is refused (a package key never vouches for a bundle).
Without either, import says in one line what it did not verify (the store
still verifies each package's signature against its own keyring).
Always, every file's size and sha256, and that
no file is missing, extra or repeated. A bundle with any
problem is refused, each problem naming its file, and nothing of it is
published. Then every revision the store lacks (HEAD check) is published as a
legacy package with the upstream's exact bytes.

The bundle is unpacked into a temporary folder (--temp-dir) while it is
checked and published: it needs the bundle's size free.

BUNDLE may be oci://HOST[:PORT]/REPO:TAG, an artifact pushed by mirror --to
oci://: the same checks apply, and only the revisions the store lacks are
downloaded, each blob bounded by its declared size and checked against its
digest (credentials from the Docker config file; --plain-http for a
registry without TLS).

--resign-key FILE re-signs each package with the site's key once its
upstream signature has verified against --keyring (so it needs --keyring,
and --bundle-keyring with it): the store serves the site's signature and
keeps the upstream's as provenance (upstream_signature). The store's
keyring must hold the site's key.

Several bundles are imported in the order given; an incremental bundle
(mirror --since) must follow the one before it and is refused while the
store lacks a revision of the bundles it follows.

Exit codes (README): 0 done, 1 refused or some revision failed, 2 usage
error, 4 the store refused the token, 5 the store unreachable. --format
json: one document on stdout, the lines on stderr.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.OCI.PlainHTTP = plainHTTP
			for _, a := range args {
				if mirror.IsOCI(a) {
					if _, err := mirror.ParseOCIRef(a, plainHTTP); err != nil {
						return usageError("%v", err)
					}
				}
			}
			if err := checkFormat(format); err != nil {
				return err
			}
			if err := needRegistry(registryURL, &token, true); err != nil {
				return err
			}
			var err error
			if cfg.To, err = client.New(registryURL, token); err != nil {
				return usageError("%v", err)
			}
			if len(keyrings) > 0 && len(bundleKeyrings) == 0 {
				return usageError("%v", mirror.ErrNoBundleKeyring)
			}
			if resign.path != "" && len(keyrings) == 0 {
				return usageError("%v", mirror.ErrResignNeedsKeyring)
			}
			if cfg.ResignKey, err = resign.load("resign-key"); err != nil {
				return err
			}
			if len(keyrings) > 0 {
				if cfg.Keyring, err = signature.LoadKeyring(keyrings...); err != nil {
					return usageError("--keyring: %v", err)
				}
			}
			if len(bundleKeyrings) > 0 {
				if cfg.BundleKeyring, err = signature.LoadKeyring(bundleKeyrings...); err != nil {
					return usageError("--bundle-keyring: %v", err)
				}
			}
			// Say what is not checked, rather than nothing (issue 21).
			switch {
			case cfg.BundleKeyring == nil:
				fmt.Fprintln(cmd.ErrOrStderr(), noKeyringNote)
			case cfg.Keyring == nil:
				fmt.Fprintln(cmd.ErrOrStderr(), noPackageKeyringNote)
			}
			out := cmd.OutOrStdout()
			lines := out
			if format == "json" {
				lines = cmd.ErrOrStderr()
			}
			cfg.Reporter = reporter("import", lines, cmd.ErrOrStderr())
			if cfg.CheckLogged, err = importLog.checker(registryURL); err != nil {
				return err
			}
			var (
				total *mirror.Summary
				exit  error
			)
			for _, b := range args {
				cfg.Bundle = b
				sum, err := mirror.Import(cmd.Context(), cfg)
				exit = mirrorExit(sum, err)
				if sum != nil && format != "json" {
					name := "import"
					if len(args) > 1 {
						name += " " + b
					}
					writeMirrorSummary(out, name, sum, false, "")
				}
				total = addSummary(total, sum)
				if exit != nil {
					break
				}
				cfg.After = sum
			}
			if format == "json" {
				return writeRunReport(out, mirrorReport("import", total, false, ""), exit)
			}
			return exit
		},
	}
	f := cmd.Flags()
	f.StringVar(&registryURL, "registry", "", "store's base URL, e.g. http://127.0.0.1:8080")
	importLog.add(f, "every revision of the bundle, once the store has it, must be in the --registry's log with the bundle's sha256")
	f.StringVar(&token, "token", "", "publishing token (default $PKGSTORE_TOKEN, then $PKGSTORE_PUBLISH_TOKEN)")
	f.StringArrayVar(&bundleKeyrings, "bundle-keyring", nil, "public keys of the operators who sign bundles (mirror --sign-key): verify the manifest's signature (repeatable)")
	f.StringArrayVar(&keyrings, "keyring", nil, "public keys of the packages' signers: verify every package's signature here (repeatable; needs --bundle-keyring)")
	resign.addAs(f, "resign-key", "resign-passphrase-file", "armored private key of the site that re-signs each package once its upstream signature verified (needs --keyring; the upstream's is kept as provenance)")
	f.IntVar(&cfg.Workers, "workers", 0, "revisions published at once (default GOMAXPROCS, at least 2)")
	f.StringVar(&cfg.TempDir, "temp-dir", "", "where the bundle is unpacked (default the system's)")
	f.BoolVar(&plainHTTP, "plain-http", false, "talk HTTP, not HTTPS, to an oci:// registry (loopback registries)")
	addFormat(f, &format)
	return cmd
}

// addSummary adds s to total (several bundles imported at once).
func addSummary(total, s *mirror.Summary) *mirror.Summary {
	if s == nil {
		return total
	}
	if total == nil {
		c := *s
		return &c
	}
	total.Selected += s.Selected
	total.Transferred += s.Transferred
	total.Present += s.Present
	total.Failed = append(total.Failed, s.Failed...)
	total.NotDone += s.NotDone
	total.Bytes += s.Bytes
	total.Elapsed += s.Elapsed
	total.SearchURL = s.SearchURL
	return total
}

// noKeyringNote is what import without --keyring leaves unverified, in one
// line: the manifest's signature is then checked by no one; each
// package's signature travels with it and the store verifies it against
// its own keyring (publish.checkSignature: a supplied signature is always
// verified, whatever --require-signatures says).
const noKeyringNote = "import: no --bundle-keyring or --keyring: not verified here: the bundle manifest's signature (who made the bundle) and each package's signature; checked: every file's size and sha256; the store verifies each package's signature against its own keyring (serve --keyring) as it publishes"

// noPackageKeyringNote is the same for an import with --bundle-keyring
// alone: who made the bundle is checked, the packages' signers here are not.
const noPackageKeyringNote = "import: no --keyring: not verified here: each package's signature; checked: the bundle manifest's signature (--bundle-keyring), every file's size and sha256; the store verifies each package's signature against its own keyring (serve --keyring) as it publishes"

// reporter draws a bar on a terminal and writes plain lines otherwise.
func reporter(name string, out, errOut io.Writer) progress.Reporter {
	if isTerminal(errOut) {
		return &progress.BarReporter{W: errOut, Name: name}
	}
	return &progress.LineReporter{W: out, Name: name}
}

// writeRunReport writes a run's JSON document, with the exit code exit
// carries, and returns exit.
func writeRunReport(w io.Writer, r runReport, exit error) error {
	r.ExitCode = exitCodeOf(exit)
	var ee *exitError
	if exit != nil && (!errors.As(exit, &ee) || ee.Err != nil) {
		r.Error = exit.Error()
	}
	if err := writeJSON(w, r); err != nil {
		return err
	}
	return exit
}

func mirrorExit(sum *mirror.Summary, err error) error {
	switch {
	case err != nil && errors.Is(err, mirror.ErrBundle):
		return &exitError{Code: exitcode.Refused, Err: err}
	case err != nil:
		return fail(err)
	case !sum.OK():
		return &exitError{Code: exitcode.Refused, Err: errors.New(failedLine(sum))}
	}
	return nil
}

// failedLine says how many revisions failed, and "run again" only for
// those a second run may change: a revision whose signature or zip was
// refused (mirror.ErrVerify) fails the same way every time.
func failedLine(sum *mirror.Summary) string {
	refused := 0
	for _, r := range sum.Failed {
		if len(r.Reasons) > 0 && strings.HasPrefix(r.Reasons[0], mirror.ErrVerify.Error()) {
			refused++
		}
	}
	retry := len(sum.Failed) - refused + sum.NotDone
	switch {
	case refused == 0:
		return fmt.Sprintf("%d revision(s) failed; run again to retry them", retry)
	case retry == 0:
		return fmt.Sprintf("%d revision(s) refused by verification (signature or zip): running again will not change that", refused)
	}
	return fmt.Sprintf("%d revision(s) refused by verification (signature or zip), %d failed otherwise: run again to retry those", refused, retry)
}

func writeMirrorSummary(w io.Writer, name string, s *mirror.Summary, dryRun bool, bundle string) {
	h := progress.HumanBytes
	if dryRun {
		fmt.Fprintf(w, "%s dry run, selected by %s:\n", name, s.SearchURL)
		for _, p := range s.Planned {
			switch {
			case p.Present:
				fmt.Fprintf(w, "  present       %s\n", p.ID())
			case p.Size < 0:
				fmt.Fprintf(w, "  would mirror  %s (size unknown)\n", p.ID())
			default:
				fmt.Fprintf(w, "  would mirror  %s (%s)\n", p.ID(), h(p.Size))
			}
		}
		fmt.Fprintf(w, "%d selected, %d would be mirrored (%s), %d present; nothing written\n", s.Selected, s.Transferred, h(s.Bytes), s.Present)
		return
	}
	secs := max(s.Elapsed.Seconds(), 1e-9)
	fmt.Fprintf(w, "\n%s summary (%s, %.1f revisions/s, %.1f MB/s):\n", name, s.Elapsed.Round(time.Millisecond), float64(s.Transferred)/secs, float64(s.Bytes)/1e6/secs)
	if s.SearchURL != "" {
		fmt.Fprintf(w, "  selection:       %s\n", s.SearchURL)
	}
	fmt.Fprintf(w, "  selected:        %d\n", s.Selected)
	verb := "published:      "
	if bundle != "" || s.OCIBlobsUploaded+s.OCIBlobsPresent > 0 {
		verb = "downloaded:     "
	}
	fmt.Fprintf(w, "  %s %d (%s)\n", verb, s.Transferred, h(s.Bytes))
	progress.WriteOutcomes(w, s.Present, s.NotDone, s.Failed)
	if bundle != "" && s.BundleSize > 0 {
		state := "written"
		if s.BundleUpToDate {
			state = "already up to date"
		}
		fmt.Fprintf(w, "  bundle %s %s: %s (zips %s)\n", bundle, state, h(s.BundleSize), h(s.BundleZipBytes))
	} else if bundle != "" && (len(s.Failed) > 0 || s.NotDone > 0) {
		fmt.Fprintf(w, "  bundle not written; what was verified is kept in %s for the next run\n", mirror.WorkDir(bundle))
	}
}
