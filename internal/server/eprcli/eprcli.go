// Package eprcli reads the Elastic Package Registry's own command line,
// environment and config.yml (EPR 1.40.1) and translates them into the
// flags of `pkgstore serve`, so that pkgstore started as `package-registry`
// is a drop-in replacement for an EPR deployment (docs/epr-dropin.md).
//
// Every EPR flag is accepted: it is either mapped onto a serve flag with
// EPR's meaning, or reported in one warning saying why it has no effect.
// Errors EPR refuses to start with are refused with EPR's own words.
package eprcli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Version is the EPR release whose command line this package reads (and
// whose API pkgstore serves).
const Version = "1.40.1"

// EnvPrefix is EPR's prefix of flag environment variables: EPR_ADDRESS
// sets -address (EPR's flagsFromEnv).
const EnvPrefix = "EPR_"

// Invocation is what an EPR command line asks for.
type Invocation struct {
	// PrintVersion is -version: print the version line and exit 0.
	PrintVersion bool
	// ServeArgs are the `pkgstore serve` flags that do what EPR would.
	ServeArgs []string
	// Warnings are one line each: an EPR setting accepted without effect,
	// and why.
	Warnings []string
	// Config is EPR's config.yml as read (nil with -version).
	Config *Config
	// Flags are EPR's flags after the environment and the command line.
	Flags Flags
	// LogFormat and LogLevel are serve's --log-format and --log-level,
	// for the lines written before serve starts (the warnings).
	LogFormat, LogLevel string
}

// Flags are EPR 1.40.1's command-line flags.
type Flags struct {
	Address, MetricsAddress, HTTPProf, LogType, ConfigPath string
	LogLevel                                               string
	TLSCert, TLSKey, TLSMinVersion                         string
	DryRun, Version                                        bool
	DisablePackageValidation, RequirePackageSignatures     bool
	AllowUnknownQueryParameters                            bool
	FeatureProxyMode, ProxyAllowInsecure                   bool
	ProxyTo                                                string
	FeatureStorageIndexer, FeatureSQLStorageIndexer        bool
	FeatureIncrementalUpdates                              bool
	FeatureEnableSearchCache, FeatureEnableCategoriesCache bool
	StorageIndexerBucketInternal, StorageEndpoint          string
	StorageIndexerWatchInterval                            time.Duration
	PackagePathsEnableWatcher                              bool
	PackagePathsWorkers                                    int
}

// ErrHelp is returned for -help / -h: the usage went to the output and
// the process exits 0, as EPR's does.
var ErrHelp = flag.ErrHelp

// UsageError is a command-line mistake: EPR prints it with its usage and
// exits 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// tlsVersion is EPR's -tls-min-version value: 1.1, 1.2 or 1.3 (not 1.0).
type tlsVersion struct{ s *string }

func (t tlsVersion) String() string {
	if t.s == nil {
		return ""
	}
	return *t.s
}

func (t tlsVersion) Set(s string) error {
	switch s {
	case "1.1", "1.2", "1.3":
		*t.s = s
		return nil
	}
	return fmt.Errorf("unsupported TLS version: %s", s)
}

// zapLevel is EPR's -log-level value (zap's level names, any case).
type zapLevel struct{ s *string }

func (l zapLevel) String() string {
	if l.s == nil {
		return "info" // zap's zero level: -help then prints no default, as EPR's
	}
	return *l.s
}

func (l zapLevel) Set(s string) error {
	switch v := strings.ToLower(s); v {
	case "debug", "info", "warn", "error", "dpanic", "panic", "fatal":
		*l.s = v
		return nil
	case "":
		*l.s = "info" // zap's zero value
		return nil
	}
	return fmt.Errorf("unrecognized level: %q", s)
}

// newFlagSet defines EPR 1.40.1's flags with its names, defaults and help
// texts (`package-registry -help` of the reference binary), on Go's flag
// package, whose rules (-flag and --flag, -flag=value, booleans only as
// -flag=false) EPR's users rely on.
func newFlagSet(name string, out io.Writer, f *Flags, workers int) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&f.Address, "address", "localhost:8080", "Address of the package-registry service.")
	fs.BoolVar(&f.AllowUnknownQueryParameters, "allow-unknown-query-parameters", true, "Allow unknown query parameters in the request. If set to false, the server will return an error if any unknown query parameter is present in the request.")
	fs.StringVar(&f.ConfigPath, "config", "config.yml", "Path to the configuration file.")
	fs.BoolVar(&f.DisablePackageValidation, "disable-package-validation", false, "Disable package content validation.")
	fs.BoolVar(&f.DryRun, "dry-run", false, "Runs a dry-run of the registry without starting the web service (experimental).")
	fs.BoolVar(&f.FeatureEnableCategoriesCache, "feature-enable-categories-cache", false, "Enable cache for categories requests. Just supported with the SQL storage indexer. (technical preview).")
	fs.BoolVar(&f.FeatureEnableSearchCache, "feature-enable-search-cache", false, "Enable cache for search requests. Just supported with the SQL storage indexer. (technical preview).")
	fs.BoolVar(&f.FeatureIncrementalUpdates, "feature-incremental-updates", false, "Enable incremental index updates using delta files (technical preview). Not supported with the SQL storage indexer.")
	fs.BoolVar(&f.FeatureProxyMode, "feature-proxy-mode", false, "Enable proxy mode to include packages from other endpoint (technical preview).")
	fs.BoolVar(&f.FeatureSQLStorageIndexer, "feature-sql-storage-indexer", false, "Enable SQL storage indexer to include packages from Package Storage v2 (technical preview).")
	fs.BoolVar(&f.FeatureStorageIndexer, "feature-storage-indexer", false, "Enable storage indexer to include packages from Package Storage v2.")
	fs.StringVar(&f.HTTPProf, "httpprof", "", "Enable HTTP profiler listening on the given address.")
	f.LogLevel = "info"
	fs.Var(zapLevel{&f.LogLevel}, "log-level", `log level (default "info")`)
	fs.StringVar(&f.LogType, "log-type", "ecs", "log type (ecs, dev)")
	fs.StringVar(&f.MetricsAddress, "metrics-address", "", "Address to expose the Prometheus metrics (experimental). ")
	fs.BoolVar(&f.PackagePathsEnableWatcher, "package-paths-enable-watcher", false, "Enable file system watcher for package paths to automatically detect new packages.")
	fs.IntVar(&f.PackagePathsWorkers, "package-paths-workers", workers, "Number of workers to use for reading packages concurrently from the configured paths. Default is the number of CPU cores returned by GOMAXPROCS.")
	fs.BoolVar(&f.ProxyAllowInsecure, "proxy-allow-insecure", false, "Allow HTTP (non-HTTPS) proxy-to endpoints. Use only in development or trusted environments.")
	fs.StringVar(&f.ProxyTo, "proxy-to", "https://epr.elastic.co/", "Proxy-to endpoint")
	fs.BoolVar(&f.RequirePackageSignatures, "require-package-signatures", true, "Require all packages to have a signature file. Disable for self-hosted registries with custom unsigned packages.")
	fs.StringVar(&f.StorageEndpoint, "storage-endpoint", "https://package-storage.elastic.co/", "Package Storage public endpoint.")
	fs.StringVar(&f.StorageIndexerBucketInternal, "storage-indexer-bucket-internal", "", "Path to the internal Package Storage bucket (with gs:// prefix).")
	fs.DurationVar(&f.StorageIndexerWatchInterval, "storage-indexer-watch-interval", time.Minute, "Address of the package-registry service.")
	fs.StringVar(&f.TLSCert, "tls-cert", "", "Path of the TLS certificate.")
	fs.StringVar(&f.TLSKey, "tls-key", "", "Path of the TLS key.")
	fs.Var(tlsVersion{&f.TLSMinVersion}, "tls-min-version", "Minimum version TLS supported.")
	fs.BoolVar(&f.Version, "version", false, "Print Elastic Package Registry version")
	return fs
}

// Env is how the parser reaches the process: its environment, its files
// and the number of CPUs (GOMAXPROCS, EPR's default worker count).
type Env struct {
	LookupEnv func(string) (string, bool)
	ReadFile  func(path string) ([]byte, error)
	Workers   int
}

// Parse reads an EPR command line (args without the program name) the way
// EPR 1.40.1 does: EPR_<FLAG> variables first, then the arguments (so a
// flag beats its variable), then the -config file. Usage and help go to
// out. It returns ErrHelp for -help, a *UsageError for a bad flag (exit
// 2), and any other error for what EPR refuses to start with (exit 1).
func Parse(name string, args []string, env Env, out io.Writer) (*Invocation, error) {
	inv := &Invocation{}
	f := &inv.Flags
	set := newFlagSet(name, out, f, max(env.Workers, 1))
	if err := flagsFromEnv(set, env.LookupEnv); err != nil {
		return nil, err
	}
	if err := set.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, ErrHelp
		}
		return nil, &UsageError{err}
	}
	if set.NArg() > 0 {
		// EPR ignores them; an operator who wrote them meant something.
		inv.Warnings = append(inv.Warnings, fmt.Sprintf("arguments after the flags are ignored, as EPR ignores them: %q", set.Args()))
	}
	// EPR checks these before -version.
	if err := validate(f); err != nil {
		return nil, err
	}
	if f.Version {
		inv.PrintVersion = true
		return inv, nil
	}
	if _, ok := logFormats[f.LogType]; !ok {
		return nil, fmt.Errorf("Failed to initialize logging: invalid logger type %q", f.LogType)
	}
	data, err := env.ReadFile(f.ConfigPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("Configuration file is not available: %s", f.ConfigPath)
		}
		return nil, fmt.Errorf("reading config failed (path: %s): %w", f.ConfigPath, err)
	}
	cfg, warns, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("unpacking config failed (path: %s): %w", f.ConfigPath, err)
	}
	if err := checkCacheTimes(cfg); err != nil {
		return nil, err
	}
	inv.Config = cfg
	inv.Warnings = append(inv.Warnings, warns...)
	serve, warns, err := serveArgs(f, cfg, env.LookupEnv, max(env.Workers, 1))
	if err != nil {
		return nil, err
	}
	inv.ServeArgs = serve
	inv.LogFormat, inv.LogLevel = logFormats[f.LogType], pkgstoreLevel(f.LogLevel)
	inv.Warnings = append(inv.Warnings, warns...)
	return inv, nil
}

// checkCacheTimes refuses what EPR's router refuses: each handler wants a
// cache time greater than zero (config.yml's 0, 0s, 0.0), in the order
// EPR builds them.
func checkCacheTimes(cfg *Config) error {
	for _, h := range []struct {
		handler string
		d       time.Duration
	}{
		{"index", cfg.CacheTimeIndex},
		{"search", cfg.CacheTimeSearch},
		{"categories", cfg.CacheTimeCategories},
		{"artifacts", cfg.CacheTimeCatchAll},
	} {
		if h.d <= 0 {
			return fmt.Errorf("failed go configure router: can't create %s handler: cache time must be greater than 0s", h.handler)
		}
	}
	return nil
}

// flagsFromEnv is EPR's: every flag whose EPR_ variable exists (even
// empty) is set from it; all failures are reported together.
func flagsFromEnv(fs *flag.FlagSet, lookup func(string) (string, bool)) error {
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := lookup(EnvName(f.Name)); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("failed to set -%s: %v", f.Name, err))
			}
		}
	})
	return errors.Join(errs...)
}

// EnvName is EPR's variable for a flag: EPR_ and the name upper-cased,
// dashes as underscores.
func EnvName(flag string) string {
	return EnvPrefix + strings.ReplaceAll(strings.ToUpper(flag), "-", "_")
}

// validate refuses the combinations EPR 1.40.1 refuses, with its words.
func validate(f *Flags) error {
	switch {
	case f.TLSMinVersion != "" && (f.TLSCert == "" || f.TLSKey == ""):
		return errors.New("-tls-min-version set but missing TLS cert and key files (-tls-cert and -tls-key)")
	case f.FeatureStorageIndexer && f.FeatureSQLStorageIndexer:
		return errors.New("both -feature-storage-indexer and -feature-sql-storage-indexer flags are enabled but are mutually exclusive")
	case f.FeatureEnableSearchCache && !f.FeatureSQLStorageIndexer:
		return errors.New("search cache is only supported in SQL storage indexer: feature-enable-search-cache is enabled, but feature-sql-storage-indexer is not enabled")
	case f.FeatureEnableCategoriesCache && !f.FeatureSQLStorageIndexer:
		return errors.New("categories cache is just supported with SQL Storage indexer: feature-enable-categories-cache is enabled, but feature-sql-storage-indexer is not enabled")
	case f.FeatureIncrementalUpdates && f.FeatureSQLStorageIndexer:
		return errors.New("feature-incremental-updates is not supported with feature-sql-storage-indexer; disable one of them")
	case f.PackagePathsWorkers <= 0:
		// Whether or not there are package paths to read.
		return errors.New("package-paths-workers must be greater than 0")
	case f.FeatureProxyMode && !f.ProxyAllowInsecure && !strings.HasPrefix(strings.ToLower(f.ProxyTo), "https://"):
		return fmt.Errorf("-proxy-to must use HTTPS (got %q); use -proxy-allow-insecure to allow HTTP", f.ProxyTo)
	}
	return nil
}

// serveArgs maps EPR's settings onto `pkgstore serve` flags. Every value
// EPR decides is passed explicitly, so that EPR's defaults (ECS logs, its
// cache times) hold whatever pkgstore's own defaults are.
func serveArgs(f *Flags, cfg *Config, lookup func(string) (string, bool), workers int) ([]string, []string, error) {
	var warns []string
	warn := func(format string, a ...any) { warns = append(warns, fmt.Sprintf(format, a...)) }
	a := []string{
		"--addr", f.Address,
		"--log-format", logFormats[f.LogType],
		"--log-level", pkgstoreLevel(f.LogLevel),
		"--allow-unknown-query-parameters=" + strconv.FormatBool(f.AllowUnknownQueryParameters),
		"--require-signatures=" + strconv.FormatBool(f.RequirePackageSignatures),
		"--no-spec-validation=" + strconv.FormatBool(f.DisablePackageValidation),
		"--cache-time-index", cfg.CacheTimeIndex.String(),
		"--cache-time-search", cfg.CacheTimeSearch.String(),
		"--cache-time-categories", cfg.CacheTimeCategories.String(),
		"--cache-time-catch-all", cfg.CacheTimeCatchAll.String(),
		// EPR never accepts publications: no publishing API, no indexer.
		"--read-only=true",
	}
	switch f.LogLevel {
	case "dpanic", "panic", "fatal":
		warn("-log-level %s: pkgstore's most severe level is error; logging errors too", f.LogLevel)
	}
	if f.MetricsAddress != "" {
		a = append(a, "--metrics-addr", f.MetricsAddress)
	}
	if f.HTTPProf != "" {
		a = append(a, "--pprof-addr", f.HTTPProf)
	}
	if f.TLSCert != "" || f.TLSKey != "" {
		a = append(a, "--tls-cert", f.TLSCert, "--tls-key", f.TLSKey)
	}
	if f.TLSMinVersion != "" {
		a = append(a, "--tls-min-version", f.TLSMinVersion)
	}
	if f.DryRun {
		a = append(a, "--dry-run=true")
	}
	for _, p := range cfg.PackagePaths {
		a = append(a, "--package-path", p)
	}
	if f.FeatureProxyMode {
		a = append(a, "--proxy-to", f.ProxyTo)
	}
	storage := f.FeatureStorageIndexer || f.FeatureSQLStorageIndexer
	if storage {
		if f.FeatureSQLStorageIndexer {
			warn("-feature-sql-storage-indexer: pkgstore reads the same buckets with its one storage indexer; it keeps the index in memory and needs no database (sql_indexer.*, search.* and the -feature-enable-*-cache flags have no effect)")
		}
		if f.StorageIndexerBucketInternal == "" {
			return nil, nil, errors.New("-feature-storage-indexer needs -storage-indexer-bucket-internal (gs://BUCKET)")
		}
		public, err := publicBucket(f.StorageEndpoint, lookup)
		if err != nil {
			return nil, nil, err
		}
		a = append(a, "--internal-bucket", f.StorageIndexerBucketInternal, "--public-bucket", public,
			"--watch-interval", f.StorageIndexerWatchInterval.String())
		if f.FeatureIncrementalUpdates {
			warn("-feature-incremental-updates: pkgstore always follows the index's deltas between cursors; the flag changes nothing")
		}
	} else {
		// EPR without a storage indexer serves only package_paths (and
		// proxy mode): an empty store in memory stands for the buckets,
		// unless pkgstore's own variables name a store to serve as well.
		if !hasStoreEnv(lookup) {
			a = append(a, "--public-bucket", "mem://", "--internal-bucket", "mem://")
			if !f.FeatureProxyMode && !f.PackagePathsEnableWatcher {
				// Only the package paths serve: EPR refuses to start
				// without a package ("No local packages found."), so
				// that an unmounted volume is a failed start, not an
				// empty registry; watching them, it starts and waits.
				a = append(a, "--require-packages=true")
			}
		}
		for _, n := range []struct {
			set  bool
			name string
		}{{f.StorageIndexerBucketInternal != "", "storage-indexer-bucket-internal"}, {f.FeatureIncrementalUpdates, "feature-incremental-updates"}} {
			if n.set {
				warn("-%s: no effect without -feature-storage-indexer (as in EPR)", n.name)
			}
		}
	}
	if f.ProxyAllowInsecure && !f.FeatureProxyMode {
		warn("-proxy-allow-insecure: no effect without -feature-proxy-mode (as in EPR)")
	}
	if len(cfg.PackagePaths) > 0 {
		// EPR reads its package_paths once unless told to watch them.
		if !f.PackagePathsEnableWatcher {
			a = append(a, "--package-path-watch-interval", "0s")
		}
		a = append(a, "--package-path-workers", strconv.Itoa(max(f.PackagePathsWorkers, 1)))
	} else {
		if f.PackagePathsEnableWatcher {
			return nil, nil, errors.New("no package paths configured, cannot enable watcher")
		}
		if f.PackagePathsWorkers != workers {
			warn("-package-paths-workers: no effect without package_paths in config.yml (as in EPR)")
		}
	}
	if v, ok := lookup("ELASTIC_APM_SERVER_URL"); ok && v != "" {
		warn("ELASTIC_APM_SERVER_URL: pkgstore sends no APM traces; use -metrics-address (Prometheus) and the ECS access log")
	}
	return a, warns, nil
}

// storeEnv are pkgstore's own variables that name a store.
var storeEnv = []string{"PKGSTORE_DATA", "PKGSTORE_PUBLIC_BUCKET", "PKGSTORE_INTERNAL_BUCKET"}

func hasStoreEnv(lookup func(string) (string, bool)) bool {
	for _, n := range storeEnv {
		if v, ok := lookup(n); ok && v != "" {
			return true
		}
	}
	return false
}

// publicBucket finds the public bucket behind EPR's -storage-endpoint.
// EPR fetches artifacts over HTTP from it; pkgstore reads the bucket
// itself, so the endpoint must name one: a bucket URL (gs://, s3://,
// azblob://, file://, mem://), or Google's own endpoint
// https://storage.googleapis.com/BUCKET/ (also through
// STORAGE_EMULATOR_HOST, as EPR's tests run it). PKGSTORE_PUBLIC_BUCKET
// overrides it.
func publicBucket(endpoint string, lookup func(string) (string, bool)) (string, error) {
	if v, ok := lookup("PKGSTORE_PUBLIC_BUCKET"); ok && v != "" {
		return v, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("-storage-endpoint %q: %w", endpoint, err)
	}
	switch u.Scheme {
	case "gs", "s3", "azblob", "file", "mem":
		return endpoint, nil
	case "http", "https":
		host := u.Host
		emu, _ := lookup("STORAGE_EMULATOR_HOST")
		emu = strings.TrimPrefix(strings.TrimPrefix(emu, "http://"), "https://")
		if host == "storage.googleapis.com" || (emu != "" && host == emu) {
			bucket, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
			if bucket != "" {
				return "gs://" + bucket, nil
			}
		}
	}
	return "", fmt.Errorf("-storage-endpoint %q: pkgstore reads the public bucket directly, not over HTTP: give the bucket (gs://BUCKET, or https://storage.googleapis.com/BUCKET/) or set PKGSTORE_PUBLIC_BUCKET", endpoint)
}

// logFormats maps EPR's -log-type onto serve's --log-format.
// An empty type is EPR's default, ecs (its logger's switch).
var logFormats = map[string]string{"ecs": "ecs", "dev": "text", "": "ecs"}

// pkgstoreLevel maps zap's levels onto slog's.
func pkgstoreLevel(zap string) string {
	switch zap {
	case "debug", "info", "warn", "error":
		return zap
	}
	return "error"
}

// VersionLine is what -version prints: EPR's line, with the pkgstore
// build after it in parentheses (so that scripts reading the fifth word
// still find EPR's version).
func VersionLine(build string) string {
	return fmt.Sprintf("Elastic Package Registry version %s (pkgstore %s)", Version, build)
}
