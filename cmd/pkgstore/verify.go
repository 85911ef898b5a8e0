package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/signature"
)

func init() { subcommands = append(subcommands, newVerifyCmd) }

func newVerifyCmd() *cobra.Command {
	var (
		sigPath            string
		keyrings           []string
		registryURL, token string
		format             string
		logKey             string
	)
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check FILE's detached OpenPGP signature against trusted keys",
		Long: `Verify checks the detached signature of FILE (FILE.sig or FILE.asc unless
--signature says otherwise, armored or binary) against the public keys in the keyring
files. It exits 0 and prints the signing key's id and fingerprint when the
signature is valid and made by a trusted key, 1 with the reason otherwise.

With --registry (and a token with the audit scope), FILE must be a
NAME-VERSION.zip: verify also prints what the store recorded when it
published that revision (sha256, signing key, token, time, yank state) and
fails unless the file's sha256 and signing key are the recorded ones.

With --registry and --log-key (the store's transparency log verifier key,
pkgstore log keygen), verify also proves that the revision's record is in
the store's log, in a tree head signed by that key, with FILE's sha256
(docs/transparency.md); --keyring is then optional.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			if len(keyrings) == 0 && logKey == "" {
				return usageError("--keyring is required (or --log-key with --registry)")
			}
			rep := &verifyReport{File: args[0]}
			out := cmd.OutOrStdout()
			if format == "json" {
				out = io.Discard
			}
			var err error
			if len(keyrings) > 0 {
				// With --log-key the log proves the bytes; the provenance
				// record (audit scope) is compared only when a token is given.
				provURL := registryURL
				if logKey != "" && token == "" && os.Getenv("PKGSTORE_TOKEN") == "" {
					provURL = ""
				}
				err = verifyFile(cmd, out, rep, args[0], sigPath, keyrings, provURL, token)
			}
			if err == nil && logKey != "" {
				err = verifyLogged(cmd.Context(), out, rep, args[0], registryURL, logKey)
			}
			if format == "json" {
				rep.ExitCode = exitCodeOf(err)
				var ee *exitError
				if err != nil && (!errors.As(err, &ee) || ee.Err != nil) {
					rep.Error = err.Error()
				}
				if werr := writeJSON(cmd.OutOrStdout(), rep); werr != nil {
					return werr
				}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&sigPath, "signature", "", "detached signature (default FILE.sig, else FILE.asc)")
	cmd.Flags().StringArrayVar(&keyrings, "keyring", nil, "file of trusted armored public keys (repeatable)")
	cmd.Flags().StringVar(&registryURL, "registry", "", "also compare FILE with what this store recorded when publishing it")
	cmd.Flags().StringVar(&token, "token", "", "token with the audit scope (default $PKGSTORE_TOKEN)")
	cmd.Flags().StringVar(&logKey, "log-key", "", "transparency log verifier key (or a file holding it): prove FILE is in the --registry's log with its sha256")
	addFormat(cmd.Flags(), &format)
	return cmd
}

// verifyReport is verify --format json's document.
type verifyReport struct {
	File        string            `json:"file"`
	Good        bool              `json:"good"`
	KeyID       string            `json:"key_id,omitempty"`
	Fingerprint string            `json:"fingerprint,omitempty"`
	UserIDs     []string          `json:"user_ids,omitempty"`
	SignedAt    string            `json:"signed_at,omitempty"`
	Published   *api.RevisionInfo `json:"published,omitempty"`
	Matches     *bool             `json:"matches_published,omitempty"`
	Log         *logReport        `json:"log,omitempty"`
	// OwnerSignature says whether the owner's signature kept in the
	// provenance of a store-signed revision verified with --keyring.
	OwnerSignature string `json:"owner_signature,omitempty"`
	Error          string `json:"error,omitempty"`
	ExitCode       int    `json:"exit_code"`
}

func verifyFile(cmd *cobra.Command, out io.Writer, rep *verifyReport, file, sigPath string, keyrings []string, registryURL, token string) error {
	_, sigBytes, err := findSignature(file, sigPath)
	if errors.Is(err, errNoSignature) || errors.Is(err, fs.ErrNotExist) {
		return &exitError{Code: 1, Err: fmt.Errorf("verify: %w: %w", signature.ErrMissing, err)}
	} else if err != nil {
		return &exitError{Code: 1, Err: fmt.Errorf("verify: %w", err)}
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
	signer, err := kr.Verify(data, bytes.NewReader(sigBytes))
	if err != nil {
		return &exitError{Code: 1, Err: fmt.Errorf("%s: BAD: %w", file, err)}
	}
	rep.Good, rep.KeyID, rep.Fingerprint = true, signer.KeyID, signer.Fingerprint
	fmt.Fprintf(out, "%s: good signature\n", file)
	fmt.Fprintf(out, "key id:      %s\n", signer.KeyID)
	fmt.Fprintf(out, "fingerprint: %s\n", signer.Fingerprint)
	ids := append([]string(nil), signer.UserIDs...)
	sort.Strings(ids)
	rep.UserIDs = ids
	if len(ids) > 0 {
		fmt.Fprintf(out, "user ids:    %s\n", strings.Join(ids, "; "))
	}
	if !signer.Created.IsZero() {
		rep.SignedAt = signer.Created.UTC().Format("2006-01-02T15:04:05Z")
		fmt.Fprintf(out, "signed at:   %s\n", signer.Created.UTC().Format("2006-01-02T15:04:05Z"))
	}
	if registryURL == "" {
		return nil
	}
	return verifyPublished(cmd, out, rep, file, signer.Fingerprint, registryURL, token, kr)
}

// verifyPublished compares file with the store's provenance record of the
// revision it names.
func verifyPublished(cmd *cobra.Command, out io.Writer, rep *verifyReport, file, fingerprint, registryURL, token string, kr *signature.Keyring) error {
	if err := needRegistry(registryURL, &token, false); err != nil {
		return err
	}
	id, err := packageid.ParseZipName(filepath.Base(file))
	if err != nil {
		return usageError("--registry needs FILE to be NAME-VERSION.zip: %v", err)
	}
	c, err := client.New(registryURL, token)
	if err != nil {
		return usageError("%v", err)
	}
	info, err := c.Revision(cmd.Context(), id)
	if err != nil {
		return fail(err)
	}
	f, err := os.Open(file)
	if err != nil {
		return &exitError{Code: 1, Err: err}
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return &exitError{Code: 1, Err: err}
	}
	sum := hex.EncodeToString(h.Sum(nil))
	rep.Published = info
	fmt.Fprintf(out, "\npublished as %s at %s:\n", id, registryURL)
	rev := info.Revision
	if rev == nil {
		fmt.Fprintln(out, "  (no provenance record: the zip was placed in the bucket by other means)")
	} else {
		signedBy := "-"
		if rev.Signer != nil {
			signedBy = rev.Signer.Fingerprint
		}
		fmt.Fprintf(out, "  published:   %s\n  token:       %s\n  client:      %s\n  submission:  %s\n  sha256:      %s\n  signing key: %s\n",
			rev.Published.UTC().Format("2006-01-02T15:04:05Z"), rev.Token, rev.Client, rev.Submission, rev.SHA256, signedBy)
		printStoreSigned(out, rep, file, rev, kr)
	}
	if info.Yanked {
		fmt.Fprintf(out, "  YANKED by %s at %s: %s\n", info.Yank.Token, info.Yank.Time.UTC().Format("2006-01-02T15:04:05Z"), info.Yank.Reason)
	}
	if rev == nil {
		return nil
	}
	var problems []string
	if rev.SHA256 != sum {
		problems = append(problems, fmt.Sprintf("sha256 %s differs from the published %s", sum, rev.SHA256))
	}
	if rev.Signer != nil && !strings.EqualFold(rev.Signer.Fingerprint, fingerprint) && (rev.StoreSigner == nil || !strings.EqualFold(rev.StoreSigner.Fingerprint, fingerprint)) {
		problems = append(problems, fmt.Sprintf("signed by %s, the published revision by %s%s", fingerprint, rev.Signer.Fingerprint, storeSignedBy(rev)))
	}
	matches := len(problems) == 0
	rep.Matches = &matches
	if len(problems) > 0 {
		return &exitError{Code: 1, Err: fmt.Errorf("%s is not the published %s: %s", file, id, strings.Join(problems, "; "))}
	}
	fmt.Fprintln(out, "  matches the file")
	return nil
}
