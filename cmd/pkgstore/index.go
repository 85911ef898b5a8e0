package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"pkgstore/internal/govern/yank"
	"pkgstore/internal/publish/index"
	"pkgstore/internal/registry/catalog"
	"pkgstore/internal/storage"
)

func newIndexCmd() *cobra.Command {
	var cfg storage.Config
	var logLevel string
	cmd := &cobra.Command{
		Use:   "index",
		Short: "Run one indexing pass: make the search index hold every published package",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(logLevel)
			if err != nil {
				return err
			}
			// An indexing pass is over an existing store: a wrong --data
			// must not become a new, empty store with an empty index.
			cfg.MustExist = true
			b, err := storage.Open(cmd.Context(), cfg)
			if err != nil {
				return &exitError{Code: 1, Err: err}
			}
			defer b.Close()
			ix := index.NewIndexer(b, log)
			ix.Check = catalog.Check
			ix.Hidden = yank.New(b, nil).Hidden // yanked revisions stay out
			res, err := ix.Index(cmd.Context())
			if err != nil {
				return &exitError{Code: 1, Err: err}
			}
			if res.Moved {
				fmt.Fprintf(cmd.OutOrStdout(), "new cursor %s: %d packages (%d added, %d removed)\n", res.Cursor, res.Total, res.Added, res.Removed)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "index up to date at cursor %s: %d packages\n", res.Cursor, res.Total)
			}
			return nil
		},
	}
	storageFlags(cmd.Flags(), &cfg)
	cmd.Flags().StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error")
	return cmd
}
