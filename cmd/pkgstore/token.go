package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"pkgstore/internal/govern/tokens"
)

func init() { subcommands = append(subcommands, newTokenCmd) }

// tokenInfo is a token as token list and token create --format show it:
// everything the tokens file holds, never a secret (create adds the one it
// made, once).
type tokenInfo struct {
	Name     string     `json:"name" yaml:"name"`
	SHA256   string     `json:"sha256,omitempty" yaml:"sha256,omitempty"`
	Scopes   []string   `json:"scopes" yaml:"scopes"`
	Packages []string   `json:"packages,omitempty" yaml:"packages,omitempty"`
	Expires  *time.Time `json:"expires,omitempty" yaml:"expires,omitempty"`
	Expired  bool       `json:"expired" yaml:"expired"`
}

func infoOf(t tokens.Token, now time.Time) tokenInfo {
	i := tokenInfo{Name: t.Name, SHA256: t.SHA256, Packages: t.Packages, Expires: t.Expires, Expired: t.Expired(now), Scopes: []string{}}
	for _, s := range t.Scopes {
		i.Scopes = append(i.Scopes, string(s))
	}
	return i
}

// maxSecret bounds what token hash reads from stdin.
const maxSecret = 4 << 10

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage the tokens of --tokens-file: create, list, revoke, hash",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newTokenCreateCmd(), newTokenListCmd(), newTokenRevokeCmd(), newTokenHashCmd())
	return cmd
}

func newTokenCreateCmd() *cobra.Command {
	var (
		scopes   []string
		packages []string
		expires  string
		format   string
	)
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Make a new token: print its secret once and the entry to add to the tokens file",
		Long: `Create prints a new random secret (shown only now: hand it to the token's
owner) and the YAML entry to append under "tokens:" in the --tokens-file. The
file holds only the secret's SHA-256; a running server picks the change up
within seconds, or at once on SIGHUP.

--format yaml or json prints one document on stdout, {secret, token}, the
token being the entry's fields; the note about the secret goes to stderr.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "yaml" && format != "json" {
				return usageError("--format must be text, yaml or json, got %q", format)
			}
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
			out := cmd.OutOrStdout()
			if format != "text" {
				doc := struct {
					Secret string    `json:"secret" yaml:"secret"`
					Token  tokenInfo `json:"token" yaml:"token"`
				}{secret, infoOf(*t, time.Now())}
				fmt.Fprintf(cmd.ErrOrStderr(), "token %s: the secret is shown once, give it to the token's owner; add the token's name, sha256, scopes, packages and expires under \"tokens:\" in the tokens file\n", t.Name)
				if format == "json" {
					return writeJSON(out, doc)
				}
				return yaml.NewEncoder(out).Encode(doc)
			}
			entry, err := t.YAML()
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "secret (shown once, give it to the token's owner):\n\n    %s\n\n", secret)
			fmt.Fprintf(out, "add to the tokens file, under \"tokens:\":\n\n%s", entry)
			return nil
		},
	}
	f := create.Flags()
	f.StringSliceVar(&scopes, "scope", nil, "publish, yank, audit or admin (repeatable or comma-separated)")
	f.StringArrayVar(&packages, "package", nil, "package-name pattern such as 'aws*' or 'cisco_*' (repeatable; '*' for all)")
	f.StringArrayVar(&packages, "packages", nil, "old name of --package")
	_ = f.MarkDeprecated("packages", "use --package")
	_ = f.MarkHidden("packages")
	f.StringVar(&expires, "expires", "", "expiry: days (90d), a duration (36h) or a date (2027-01-31)")
	f.StringVar(&format, "format", "text", "text, yaml or json (one document on stdout: {secret, token})")
	return create
}

// readTokensFile reads and parses --tokens-file.
func readTokensFile(path string) ([]byte, *tokens.Set, error) {
	if path == "" {
		return nil, nil, usageError("--tokens-file FILE is required")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, usageError("%v", err)
	}
	set, err := tokens.Parse(data)
	if err != nil {
		return nil, nil, &exitError{Code: 1, Err: fmt.Errorf("%s: %w", path, err)}
	}
	return data, set, nil
}

func newTokenListCmd() *cobra.Command {
	var file, format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the tokens of a tokens file: names, scopes, package patterns, expiry (never secrets)",
		Long: `List prints each token of --tokens-file: its name, scopes, package patterns
and expiry, and whether it has expired. The file holds no secret, only each
secret's SHA-256 (shown with --format json or yaml).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" && format != "yaml" {
				return usageError("--format must be table, json or yaml, got %q", format)
			}
			_, set, err := readTokensFile(file)
			if err != nil {
				return err
			}
			now := time.Now()
			list := []tokenInfo{}
			for _, t := range set.Entries() {
				list = append(list, infoOf(t, now))
			}
			out := cmd.OutOrStdout()
			switch format {
			case "json":
				return writeJSON(out, list)
			case "yaml":
				return yaml.NewEncoder(out).Encode(list)
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSCOPES\tPACKAGES\tEXPIRES")
			for _, t := range list {
				exp := "never"
				if t.Expires != nil {
					exp = t.Expires.UTC().Format(time.RFC3339)
					if t.Expired {
						exp += " (expired)"
					}
				}
				pk := strings.Join(t.Packages, ",")
				if pk == "" {
					pk = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, strings.Join(t.Scopes, ","), pk, exp)
			}
			tw.Flush()
			if len(list) == 0 {
				fmt.Fprintln(out, "(no tokens)")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "tokens-file", "", "the tokens file (serve --tokens-file)")
	cmd.Flags().StringVar(&format, "format", "table", "table, json or yaml")
	return cmd
}

func newTokenRevokeCmd() *cobra.Command {
	var file, format string
	cmd := &cobra.Command{
		Use:   "revoke NAME",
		Short: "Remove a token from the tokens file (atomically); a running serve drops it within seconds",
		Long: `Revoke removes the token called NAME from --tokens-file, keeping the other
entries and their comments, and replaces the file atomically (a temporary
file renamed over it). A serve with --tokens-file polls the file and stops
accepting the token within seconds (at once on SIGHUP). Exit 1 when the file
holds no such token (nothing is written).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			data, _, err := readTokensFile(file)
			if err != nil {
				return err
			}
			out, err := tokens.Revoke(data, args[0])
			if err != nil {
				return &exitError{Code: 1, Err: err}
			}
			if err := tokens.WriteFileAtomic(file, out); err != nil {
				return &exitError{Code: 1, Err: fmt.Errorf("write %s: %w", file, err)}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "revoked token %s: removed from %s; a running serve drops it within seconds (SIGHUP: at once)\n", args[0], file)
			if format == "json" {
				return writeJSON(cmd.OutOrStdout(), struct {
					Revoked string `json:"revoked"`
					File    string `json:"file"`
				}{args[0], file})
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "tokens-file", "", "the tokens file (serve --tokens-file)")
	addFormat(cmd.Flags(), &format)
	return cmd
}

func newTokenHashCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "hash",
		Short: "Read a secret from stdin and print the SHA-256 the tokens file stores for it",
		Long: `Hash reads one secret from stdin (a trailing newline is not part of it) and
prints its hex SHA-256, the "sha256" of a tokens file entry: for a secret
made elsewhere (a vault, openssl rand) that never goes on a command line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			data, err := io.ReadAll(io.LimitReader(bufio.NewReader(cmd.InOrStdin()), maxSecret+1))
			if err != nil {
				return &exitError{Code: 1, Err: fmt.Errorf("read the secret: %w", err)}
			}
			if len(data) > maxSecret {
				return usageError("the secret on stdin is over %d bytes", maxSecret)
			}
			secret := strings.TrimRight(string(data), "\r\n")
			if strings.ContainsAny(secret, "\r\n") {
				return usageError("stdin holds several lines: give one secret")
			}
			if secret == "" {
				return usageError("no secret on stdin")
			}
			if format == "json" {
				return writeJSON(cmd.OutOrStdout(), struct {
					SHA256 string `json:"sha256"`
				}{tokens.Digest(secret)})
			}
			fmt.Fprintln(cmd.OutOrStdout(), tokens.Digest(secret))
			return nil
		},
	}
	addFormat(cmd.Flags(), &format)
	return cmd
}
