package main

import (
	"strings"

	"github.com/spf13/pflag"

	"pkgstore/internal/registry/proxy"
	"pkgstore/internal/server"
)

// proxyCacheFlags adds proxy mode's upstream failure handling, the
// pull-through cache's bounds and the CDN directives to serve's flags;
// the returned function reads the sizes once the flags are parsed.
func proxyCacheFlags(f *pflag.FlagSet, cfg *server.Config) func() error {
	pc := &cfg.Proxy
	var maxBytes, tempBytes, minRate, staleBytes string
	f.DurationVar(&pc.Timeout, "proxy-timeout", proxy.DefaultTimeout, "with --proxy-to: one upstream request in all, retries included (then 504, or the local answer; 0: no bound but HTTP's 10 s)")
	f.IntVar(&pc.MaxFails, "proxy-max-fails", proxy.DefaultMaxFails, "with --proxy-to: upstream failures in a row that open the circuit: the upstream is not asked for --proxy-fail-timeout (0: never open)")
	f.DurationVar(&pc.FailTimeout, "proxy-fail-timeout", proxy.DefaultFailTimeout, "with --proxy-to: how long an open circuit answers from local data before one request probes the upstream")
	f.StringVar(&staleBytes, "proxy-stale-max-bytes", "32MB", "with --proxy-cache: the last good upstream /search and /categories answers kept to serve when it errors (stale-if-error; 0: none)")
	f.DurationVar(&cfg.StaleWhileRevalidate, "stale-while-revalidate", 0, "add stale-while-revalidate=SECONDS to cacheable answers' Cache-Control, for CDNs (0: off, as EPR)")
	f.DurationVar(&cfg.StaleIfError, "stale-if-error", 0, "add stale-if-error=SECONDS to cacheable answers' Cache-Control, for CDNs (0: off, as EPR)")
	f.StringVar(&maxBytes, "proxy-cache-max-bytes", "10GB", "with --proxy-cache: most the revisions it pulled may take in the store; the least recently used are evicted (0: no limit)")
	f.IntVar(&pc.MaxPulls, "proxy-pulls", proxy.DefaultMaxPulls, "with --proxy-cache: revisions downloaded at once (503 with Retry-After over it)")
	f.IntVar(&pc.MaxPullsPerClient, "proxy-pulls-per-client", proxy.DefaultMaxPullsPerClient, "with --proxy-cache: requests of one client address waiting for downloads (503 over it)")
	f.DurationVar(&pc.PullTimeout, "proxy-pull-timeout", proxy.DefaultPullTimeout, "with --proxy-cache: one download in all, retries included")
	f.StringVar(&minRate, "proxy-min-rate", "16KB", "with --proxy-cache: slowest download kept, a second over 30 s (0: no cut)")
	f.StringVar(&pc.TempDir, "proxy-temp-dir", "", "with --proxy-cache: where downloads are kept until published (default the system's)")
	f.StringVar(&tempBytes, "proxy-temp-bytes", "", "with --proxy-cache: temporary space of all downloads at once (default and at least --max-upload-size)")
	return func() error {
		var err error
		if pc.MaxBytes, err = parseSizeOrZero(maxBytes); err != nil {
			return usageError("--proxy-cache-max-bytes: %v", err)
		}
		if tempBytes != "" {
			if pc.TempBytes, err = parseSize(tempBytes); err != nil {
				return usageError("--proxy-temp-bytes: %v", err)
			}
		}
		if pc.MinRate, err = parseSizeOrZero(minRate); err != nil {
			return usageError("--proxy-min-rate: %v", err)
		}
		if pc.MinRate == 0 {
			pc.MinRate = -1 // 0 turns the cut off
		}
		if pc.MaxPulls < 1 || pc.MaxPullsPerClient < 1 {
			return usageError("--proxy-pulls and --proxy-pulls-per-client must be at least 1")
		}
		if pc.StaleMaxBytes, err = parseSizeOrZero(staleBytes); err != nil {
			return usageError("--proxy-stale-max-bytes: %v", err)
		}
		switch {
		case pc.Timeout < 0 || pc.MaxFails < 0 || pc.FailTimeout <= 0:
			return usageError("--proxy-timeout and --proxy-max-fails must not be negative, --proxy-fail-timeout must be positive")
		case cfg.StaleWhileRevalidate < 0 || cfg.StaleIfError < 0:
			return usageError("--stale-while-revalidate and --stale-if-error must not be negative")
		}
		// Zero turns each off; in the proxy's config zero is the default.
		for _, v := range []*int64{&pc.StaleMaxBytes, (*int64)(&pc.Timeout)} {
			if *v == 0 {
				*v = -1
			}
		}
		if pc.MaxFails == 0 {
			pc.MaxFails = -1
		}
		return nil
	}
}

// parseSizeOrZero is parseSize that also takes 0, which these flags
// document as "off".
func parseSizeOrZero(s string) (int64, error) {
	if strings.TrimSpace(s) == "0" {
		return 0, nil
	}
	return parseSize(s)
}
