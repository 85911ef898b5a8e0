package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/pkg/packageid"
)

func init() { subcommands = append(subcommands, newYankCmd, newUnyankCmd) }

func newYankCmd() *cobra.Command   { return yankCmd(true) }
func newUnyankCmd() *cobra.Command { return yankCmd(false) }

func yankCmd(yank bool) *cobra.Command {
	var registryURL, token, reason, format string
	use, short, long := "yank NAME VERSION", "Withdraw a published revision from new installs (nothing is deleted)",
		`Yank marks NAME VERSION as yanked (PEP 592): it leaves /search and
/categories and the index other registries read, but its document, zip,
signature and static files keep being served to whoever pinned it, and the
version can never be published again. --reason is required and recorded.`
	if !yank {
		use, short, long = "unyank NAME VERSION", "Withdraw a yank: offer the revision for new installs again",
			`Unyank returns a yanked revision to /search, /categories and the index.`
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			if err := needRegistry(registryURL, &token, false); err != nil {
				return err
			}
			id := packageid.ID{Name: args[0], Version: args[1]}
			if err := id.Validate(); err != nil {
				return usageError("%v", err)
			}
			if yank && reason == "" {
				return usageError("--reason is required: say why, it is shown with the revision")
			}
			c, err := client.New(registryURL, token)
			if err != nil {
				return usageError("%v", err)
			}
			res, err := c.Yank(cmd.Context(), id, yank, reason)
			if err != nil {
				return fail(err)
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				return writeJSON(out, struct {
					Package string `json:"package"`
					Version string `json:"version"`
					*api.YankResponse
				}{id.Name, id.Version, res})
			}
			verb := "unyanked"
			if res.State.Yanked {
				verb = "yanked"
			}
			if !res.Changed {
				fmt.Fprintf(out, "%s was already %s\n", id, verb)
				return nil
			}
			fmt.Fprintf(out, "%s %s by %s at %s", id, verb, res.State.Token, res.State.Time.Format("2006-01-02T15:04:05Z"))
			if res.State.Reason != "" {
				fmt.Fprintf(out, ": %s", res.State.Reason)
			}
			fmt.Fprintln(out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&registryURL, "registry", "", "registry base URL, e.g. http://localhost:8080")
	f.StringVar(&token, "token", "", "token with the yank scope for this package (default $PKGSTORE_TOKEN)")
	f.StringVar(&reason, "reason", "", "why (required for yank)")
	addFormat(f, &format)
	return cmd
}
