package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"pkgstore/internal/server"
	"pkgstore/internal/storage"
)

func newIndexCmd() *cobra.Command {
	var cfg storage.Config
	var logLevel string
	var trust server.TrustConfig
	cmd := &cobra.Command{
		Use:   "index",
		Short: "Run one indexing pass: make the search index hold every published package",
		Long: `Run one indexing pass over the buckets and exit: the search index (a new
cursor) then holds every published package, yanked ones left out. Serve
does this by itself; with ` + "`pkgstore job publish`" + `, run it after the job or
on a schedule. ` + "`pkgstore index` and `pkgstore job index`" + ` are the same command.`,
		Args: cobra.NoArgs,
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
				return fail(err)
			}
			defer b.Close()
			ix := server.NewIndexer(b, log) // serve's: yanked revisions stay out
			if _, err := server.SignIndexer(ix, b, trust, log); err != nil {
				return usageError("%v", err)
			}
			res, err := ix.Index(cmd.Context())
			if err != nil {
				return unreachable(err)
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
	indexSigningFlags(cmd.Flags(), &trust)
	cmd.Flags().StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error")
	return cmd
}
