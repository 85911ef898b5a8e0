package main

import (
	"github.com/spf13/pflag"

	"pkgstore/internal/registry/proxy"
	"pkgstore/internal/server"
)

// proxyCacheFlags adds the pull-through cache's bounds to serve's flags;
// the returned function reads the sizes once the flags are parsed.
func proxyCacheFlags(f *pflag.FlagSet, pc *server.ProxyConfig) func() error {
	var maxBytes, tempBytes, minRate string
	f.StringVar(&maxBytes, "proxy-cache-max-bytes", "10GB", "with --proxy-cache: most the revisions it pulled may take in the store; the least recently used are evicted (0: no limit)")
	f.IntVar(&pc.MaxPulls, "proxy-pulls", proxy.DefaultMaxPulls, "with --proxy-cache: revisions downloaded at once (503 with Retry-After over it)")
	f.IntVar(&pc.MaxPullsPerClient, "proxy-pulls-per-client", proxy.DefaultMaxPullsPerClient, "with --proxy-cache: requests of one client address waiting for downloads (503 over it)")
	f.DurationVar(&pc.PullTimeout, "proxy-pull-timeout", proxy.DefaultPullTimeout, "with --proxy-cache: one download in all, retries included")
	f.StringVar(&minRate, "proxy-min-rate", "16KB", "with --proxy-cache: slowest download kept, a second over 30 s (0: no cut)")
	f.StringVar(&pc.TempDir, "proxy-temp-dir", "", "with --proxy-cache: where downloads are kept until published (default the system's)")
	f.StringVar(&tempBytes, "proxy-temp-bytes", "", "with --proxy-cache: temporary space of all downloads at once (default and at least --max-upload-size)")
	return func() error {
		var err error
		if pc.MaxBytes, err = parseSize(maxBytes); err != nil {
			return usageError("--proxy-cache-max-bytes: %v", err)
		}
		if tempBytes != "" {
			if pc.TempBytes, err = parseSize(tempBytes); err != nil {
				return usageError("--proxy-temp-bytes: %v", err)
			}
		}
		if pc.MinRate, err = parseSize(minRate); err != nil {
			return usageError("--proxy-min-rate: %v", err)
		}
		if pc.MinRate == 0 {
			pc.MinRate = -1 // 0 turns the cut off
		}
		if pc.MaxPulls < 1 || pc.MaxPullsPerClient < 1 {
			return usageError("--proxy-pulls and --proxy-pulls-per-client must be at least 1")
		}
		return nil
	}
}
