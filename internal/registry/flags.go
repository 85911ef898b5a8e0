package registry

import (
	"github.com/spf13/pflag"
)

// AddFlags registers the registry's command-line flags on fs with EPR's
// defaults; the caller passes c.WatchInterval to Watch.
func (c *Config) AddFlags(fs *pflag.FlagSet) {
	fs.DurationVar(&c.CacheTimes.Index, "cache-time-index", DefaultCacheTimeIndex, "max-age of /, /index.json and /package/N/V/")
	fs.DurationVar(&c.CacheTimes.Search, "cache-time-search", DefaultCacheTimeSearch, "max-age of /search")
	fs.DurationVar(&c.CacheTimes.Categories, "cache-time-categories", DefaultCacheTimeCategories, "max-age of /categories")
	fs.DurationVar(&c.CacheTimes.CatchAll, "cache-time-catch-all", DefaultCacheTimeCatchAll, "max-age of artifacts, signatures, static files and the favicon")
	fs.BoolVar(&c.AllowUnknownQueryParams, "allow-unknown-query-parameters", true, "accept unknown /search and /categories query parameters (false: answer 400)")
	fs.DurationVar(&c.WatchInterval, "watch-interval", DefaultWatchInterval, "how often to poll the index cursor for changes")
	fs.StringVar(&c.PublicURL, "public-url", "", "the store's URL as clients reach it (e.g. https://epr.example.com), shown in the catalog's Fleet snippet; default: each request's Host and X-Forwarded-Proto, in private pages")
}
