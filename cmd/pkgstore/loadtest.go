package main

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/spf13/cobra"

	"pkgstore/internal/client/loadtest"
)

func init() { subcommands = append(subcommands, newLoadtestCmd) }

func newLoadtestCmd() *cobra.Command {
	var (
		o      loadtest.Options
		format string
	)
	cmd := &cobra.Command{
		Use:   "loadtest URL",
		Short: "Drive a registry with Kibana Fleet's request mix and report req/s and latency per route",
		Long: `Discover packages from the registry's own /search, then send Fleet's mix
(searches with kibana.version, prerelease, capabilities and spec range;
categories; package documents; READMEs and icons; zips and signatures)
from --concurrency clients for --duration or --requests, and report
requests per second, p50/p95/p99 latency, non-2xx answers and errors per
route. Only loopback targets unless --allow-remote.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Target = args[0]
			if format != "text" && format != "json" {
				return usageError("--format: want text or json")
			}
			if o.Duration <= 0 && o.Requests <= 0 {
				return usageError("give --duration or --requests")
			}
			res, err := loadtest.Run(cmd.Context(), o)
			if errors.Is(err, loadtest.ErrRemote) {
				return usageError("%v", err)
			}
			if err != nil {
				return fail(err)
			}
			if format == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			res.WriteText(cmd.OutOrStdout())
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.Duration, "duration", 10*time.Second, "how long to run (0: until --requests)")
	f.IntVar(&o.Requests, "requests", 0, "stop after this many requests (0: until --duration)")
	f.IntVar(&o.Concurrency, "concurrency", 8, "clients sending at once")
	f.StringVar(&o.KibanaVersion, "kibana-version", "8.15.0", "kibana.version of the searches")
	f.StringVar(&o.AcceptEncoding, "accept-encoding", "gzip, deflate, br", "Accept-Encoding sent (Fleet's Node client's by default; \"\" for none)")
	f.BoolVar(&o.AllowRemote, "allow-remote", false, "allow a target that is not a loopback address")
	f.Uint64Var(&o.Seed, "seed", 1, "seed of the request choice")
	f.StringVar(&format, "format", "text", "text or json")
	return cmd
}
