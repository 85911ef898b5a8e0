package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"pkgstore/internal/pkg/archive"
	"pkgstore/internal/publish/publishapi"
	"pkgstore/internal/registry"
	"pkgstore/internal/server"
	"pkgstore/internal/server/buildinfo"
	"pkgstore/internal/server/flagconfig"
	"pkgstore/internal/server/logging"
	"pkgstore/internal/storage"
)

func init() { subcommands = append(subcommands, newServeCmd, newIndexCmd) }

// storageFlags are the bucket flags shared by every command that opens them.
func storageFlags(fs *pflag.FlagSet, c *storage.Config) {
	fs.StringVar(&c.DataDir, "data", "./data", "folder holding the embedded file buckets DIR/public and DIR/internal")
	fs.StringVar(&c.PublicURL, "public-bucket", "", "public bucket URL (file:///…, mem://, gs://…, s3://…, azblob://…); replaces DIR/public")
	fs.StringVar(&c.InternalURL, "internal-bucket", "", "internal bucket URL; replaces DIR/internal")
}

func newLogger(level string) (*slog.Logger, error) { return newFormatLogger("text", level) }

// newFormatLogger writes text or ECS JSON (--log-format) to stderr.
func newFormatLogger(format, level string) (*slog.Logger, error) {
	if _, err := logging.ParseLevel(level); err != nil {
		return nil, usageError("--log-level: %v", err)
	}
	l, err := logging.New(os.Stderr, format, level, registry.DefaultServiceName, registry.ServiceVersion)
	if err != nil {
		return nil, usageError("--log-format: %v", err)
	}
	return l, nil
}

// newBufferedLogger is newFormatLogger writing through a buffer (flushed
// within logging.FlushInterval, at once for warnings and errors), so that
// an access line is not a write(2) per request; the caller closes it.
func newBufferedLogger(format, level string) (*slog.Logger, *logging.Buffered, error) {
	if _, err := logging.ParseLevel(level); err != nil {
		return nil, nil, usageError("--log-level: %v", err)
	}
	l, b, err := logging.NewBuffered(os.Stderr, format, level, registry.DefaultServiceName, registry.ServiceVersion)
	if err != nil {
		return nil, nil, usageError("--log-format: %v", err)
	}
	return l, b, nil
}

// configDefaults fills each flag the command line did not set from its
// PKGSTORE_<FLAG> variable, then from the --config YAML file (keys are
// flag names), so that replicas can share configuration.
func configDefaults(fs *pflag.FlagSet) error {
	if err := flagconfig.FromEnv(fs, "PKGSTORE_", os.LookupEnv); err != nil {
		return usageError("%v", err)
	}
	if f := fs.Lookup("config"); f != nil && f.Value.String() != "" {
		if err := flagconfig.FromFile(fs, f.Value.String(), "config"); err != nil {
			return usageError("%v", err)
		}
	}
	return nil
}

func newServeCmd() *cobra.Command {
	cfg := server.Config{Limits: archive.DefaultLimits}
	var (
		addr      string
		logLevel  string
		logFormat string
		tlsMin    string
		maxZip    string
		lim       sizeFlags
		dryRun    bool
		// proxyBounds reads the pull-through cache's flags (proxyflags.go).
		proxyBounds func() error
		storeKey    storeKeyFlags
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the registry, the publishing job and the indexer",
		Long: `Serve the Elastic Package Registry API over the store's buckets, accept
publications on POST /api/v1/publish (with --publish-token), and keep the
search index up to date. With --read-only, only serve buckets written by
another process.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := configDefaults(cmd.Flags()); err != nil {
				return err
			}
			log, logs, err := newBufferedLogger(logFormat, logLevel)
			if err != nil {
				return err
			}
			defer logs.Close()
			cfg.Logger = log
			if cfg.TLS.MinVersion, err = server.ParseTLSVersion(tlsMin); err != nil {
				return usageError("--tls-min-version: %v", err)
			}
			if cfg.MaxUploadSize, err = parseSize(maxZip); err != nil {
				return usageError("--max-upload-size: %v", err)
			}
			if cfg.Limits, err = lim.limits(); err != nil {
				return err
			}
			switch {
			case cfg.MinUploadRate < 0:
				return usageError("--upload-min-rate: %d is negative (0 turns the minimum off)", cfg.MinUploadRate)
			case cfg.MinUploadRate == 0:
				cfg.MinUploadRate = -1 // off; zero would mean the default
			}
			if cfg.MaxUploadsPerToken <= 0 || cfg.UploadRateWindow <= 0 {
				return usageError("--max-uploads-per-token and --upload-rate-window must be positive")
			}
			if err := proxyBounds(); err != nil {
				return err
			}
			if cfg.ReadOnly && (len(cfg.Tokens) > 0 || cfg.TokensFile != "") {
				// Replicas share the writer's configuration; refusing to
				// start would make them fail for a setting they never use.
				log.Warn("read-only replica: ignoring the publish token(s) (--publish-token / PKGSTORE_PUBLISH_TOKEN / --tokens-file); the publishing API stays off")
				cfg.Tokens, cfg.TokensFile = nil, ""
			}
			if !cfg.ReadOnly {
				if cfg.StoreKey, err = storeKey.load("store-signing-key"); err != nil {
					return err
				}
				if cfg.StoreKey != nil {
					log.Info("signing publications with the store key", "fingerprint", cfg.StoreKey.Fingerprint(), "signing_key_id", cfg.StoreKey.SigningKeyID(time.Now()))
				}
			}
			if !cfg.ReadOnly && cfg.RequireSignatures && len(cfg.Keyrings) == 0 {
				log.Warn("no --keyring given: every publication will be refused until one is (or pass --require-signatures=false)")
			}
			if !cfg.ReadOnly && len(cfg.Tokens) == 0 && cfg.TokensFile == "" {
				log.Info("publishing API disabled: pass --tokens-file, --publish-token or set PKGSTORE_PUBLISH_TOKEN to enable it")
			}
			// A replica serves a store another process writes: it must
			// not invent an empty one where a path is wrong.
			cfg.Storage.MustExist = cfg.ReadOnly
			cfg.WatchInterval = cfg.Registry.WatchInterval
			cfg.Version = buildinfo.Read().Short()
			srv, err := server.New(cmd.Context(), cfg)
			if err != nil {
				return fail(err) // 5 when a bucket cannot be opened
			}
			defer srv.Close()
			if dryRun {
				if err := srv.DryRun(cmd.Context()); err != nil {
					return fail(err)
				}
				return nil
			}
			if err := srv.ListenAndServe(cmd.Context(), addr); err != nil {
				return &exitError{Code: 1, Err: err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.String("config", "", "YAML file of serve settings, keys are flag names (addr: 0.0.0.0:8080); every flag is also read from PKGSTORE_<FLAG> (PKGSTORE_TLS_CERT for --tls-cert; lists comma-separated); precedence: flag, environment, file")
	f.BoolVar(&dryRun, "dry-run", false, "open the buckets, load the index once, log what was found and exit (0: it would serve)")
	f.StringVar(&cfg.PprofAddr, "pprof-addr", "", "serve Go's profiler (net/http/pprof) at http://ADDR/debug/pprof/ (off when empty; never expose it)")
	f.StringVar(&addr, "addr", "localhost:8080", "address to listen on")
	storageFlags(f, &cfg.Storage)
	f.StringArrayVar(&cfg.Keyrings, "keyring", nil, "file of trusted armored OpenPGP public keys (repeatable; a file may hold several keys)")
	f.BoolVar(&cfg.RequireSignatures, "require-signatures", true, "refuse packages without a detached signature")
	f.StringVar(&cfg.LogKey, "log-key", "", "transparency log signer key file (pkgstore log keygen): append every publication and yank to the log served at /api/v1/log/ (docs/transparency.md)")
	storeKey.add(f, "store-signing-key", "armored OpenPGP private key the store signs each verified publication with: its signature is served as .zip.sig, the owner's kept in the provenance (docs/operators-governance.md)")
	f.StringArrayVar(&cfg.Tokens, "publish-token", nil, "bearer token allowed to publish (repeatable; PKGSTORE_PUBLISH_TOKEN: comma-separated)")
	f.StringVar(&cfg.TokensFile, "tokens-file", "", "YAML file of named, scoped tokens (pkgstore token create); reloaded on change and on SIGHUP; fails closed: deleted, unreadable, empty or invalid while serving revokes every named token until it loads again")
	f.IntVar(&cfg.Workers, "workers", 0, "candidates checked and published at once (default: cores + 1, at least 2)")
	f.StringVar(&maxZip, "max-upload-size", "251MB", "largest accepted publish request")
	lim.add(f)
	f.BoolVar(&cfg.NoSpecValidation, "no-spec-validation", false, "skip package-spec validation for every package (as if all were --legacy)")
	f.BoolVar(&cfg.ReadOnly, "read-only", false, "only serve: no publishing API, no indexer")
	trustFlags(f, &cfg.Trust)
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error (env PKGSTORE_LOG_LEVEL)")
	f.StringVar(&logFormat, "log-format", "text", "text, or ecs: JSON with Elastic Common Schema field names as EPR's ecs log type (env PKGSTORE_LOG_FORMAT)")
	f.StringVar(&cfg.TLS.CertFile, "tls-cert", "", "PEM certificate (chain) file: serve HTTPS (env PKGSTORE_TLS_CERT)")
	f.StringVar(&cfg.TLS.KeyFile, "tls-key", "", "PEM private key file of --tls-cert (env PKGSTORE_TLS_KEY)")
	f.StringVar(&tlsMin, "tls-min-version", "", "lowest TLS version accepted: 1.0, 1.1, 1.2 (default) or 1.3 (env PKGSTORE_TLS_MIN_VERSION)")
	f.BoolVar(&cfg.NoUI, "no-ui", false, "do not serve the web catalog at /ui/")
	f.StringVar(&cfg.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics (off when empty)")
	cfg.HTTP.AddFlags(f)
	f.Float64Var(&cfg.PublishRate, "publish-rate", 0, "publications a minute per token (429 with Retry-After over it; 0: no limit)")
	f.IntVar(&cfg.PublishBurst, "publish-burst", 10, "publications per token accepted at once before --publish-rate applies")
	f.IntVar(&cfg.MaxUploads, "max-uploads", publishapi.DefaultMaxUploads, "uploads received at once (503 with Retry-After over it)")
	f.IntVar(&cfg.MaxPending, "max-pending", publishapi.DefaultMaxPending, "submissions waiting or in progress (503 with Retry-After over it)")
	f.IntVar(&cfg.MaxUploadsPerToken, "max-uploads-per-token", publishapi.DefaultMaxUploadsPerToken, "uploads one token may have in progress at once (429 with Retry-After over it)")
	f.Int64Var(&cfg.MinUploadRate, "upload-min-rate", publishapi.DefaultMinUploadRate, "bytes a second an upload must send, averaged over --upload-rate-window (408 under it; 0: no minimum)")
	f.DurationVar(&cfg.UploadRateWindow, "upload-rate-window", publishapi.DefaultUploadRateWindow, "window of --upload-min-rate, and an upload's grace at its start")
	cfg.Registry.AddFlags(f)
	f.StringVar(&cfg.Proxy.Upstream, "proxy-to", "", "EPR's proxy mode: merge this registry's packages with the local ones (docs/registry.md)")
	f.BoolVar(&cfg.Proxy.Cache, "proxy-cache", false, "with --proxy-to: publish each revision downloaded through the proxy into this store (signature verified)")
	proxyBounds = proxyCacheFlags(f, &cfg)
	f.StringArrayVar(&cfg.PackagePaths, "package-path", nil, "EPR's package_paths: serve the zips (NAME-VERSION.zip + .zip.sig) and NAME/VERSION/ folders under DIR in place, read-only, beside the store (repeatable; the first path wins a duplicate; docs/package-paths.md)")
	f.BoolVar(&cfg.RequirePackages, "require-packages", false, "refuse to start when the package paths hold no package (EPR's check; set by package-registry when only package paths serve)")
	f.StringVar(&cfg.PackagePathCache, "package-path-cache", "", "the package paths' own cache folder, so that a restart over unchanged folders reads no package again (default: DATA/package-paths-cache)")
	f.DurationVar(&cfg.PackagePathWatch, "package-path-watch-interval", 10*time.Second, "how often to rescan the package paths for added, changed and removed packages (0: never)")
	f.IntVar(&cfg.PackagePathWorkers, "package-path-workers", 0, "packages read at once when scanning the package paths (default: twice GOMAXPROCS)")
	return cmd
}

// sizeFlags are the zip-bomb limits.
type sizeFlags struct {
	total, file string
	ratio       int64
}

func (s *sizeFlags) add(f *pflag.FlagSet) {
	f.StringVar(&s.total, "max-package-size", "250MB", "largest uncompressed package")
	f.StringVar(&s.file, "max-file-size", "150MB", "largest uncompressed file in a package")
	f.Int64Var(&s.ratio, "max-compression-ratio", archive.DefaultLimits.MaxRatio, "largest compression ratio of a file over 1MB (zip bombs)")
}

func (s *sizeFlags) limits() (archive.Limits, error) {
	l := archive.DefaultLimits
	var err error
	if l.MaxTotalSize, err = parseSize(s.total); err != nil {
		return l, usageError("--max-package-size: %v", err)
	}
	if l.MaxFileSize, err = parseSize(s.file); err != nil {
		return l, usageError("--max-file-size: %v", err)
	}
	l.MaxRatio = s.ratio
	return l, nil
}

// parseSize reads 250MB, 1GB, 512KB or a plain byte count (binary units).
func parseSize(s string) (int64, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, suf := range []struct {
		s string
		m int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(u, suf.s) {
			u, mult = strings.TrimSuffix(u, suf.s), suf.m
			break
		}
	}
	var n int64
	if _, err := fmt.Sscanf(u, "%d", &n); err != nil || n <= 0 || fmt.Sprint(n) != u {
		return 0, fmt.Errorf("%q is not a size such as 250MB", s)
	}
	return n * mult, nil
}
