package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"pkgstore/internal/server/buildinfo"
)

func init() { subcommands = append(subcommands, newVersionCmd) }

// newVersionCmd prints the build: module version, VCS revision, Go version
// (also `pkgstore --version`).
func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print pkgstore's version, VCS revision and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(cmd.OutOrStdout(), buildinfo.Read().String())
			return nil
		},
	}
}
