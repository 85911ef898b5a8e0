package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"pkgstore/internal/archive"
	"pkgstore/internal/server"
	"pkgstore/internal/storage"
)

func init() { subcommands = append(subcommands, newServeCmd, newIndexCmd) }

// storageFlags are the bucket flags shared by every command that opens them.
func storageFlags(fs *pflag.FlagSet, c *storage.Config) {
	fs.StringVar(&c.DataDir, "data", "./data", "folder holding the embedded file buckets DIR/public and DIR/internal")
	fs.StringVar(&c.PublicURL, "public-bucket", "", "public bucket URL (file:///…, mem://, gs://…, s3://…, azblob://…); replaces DIR/public")
	fs.StringVar(&c.InternalURL, "internal-bucket", "", "internal bucket URL; replaces DIR/internal")
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError("--log-level: %v", err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

func newServeCmd() *cobra.Command {
	cfg := server.Config{Limits: archive.DefaultLimits}
	var (
		addr     string
		logLevel string
		maxZip   string
		lim      sizeFlags
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
			log, err := newLogger(logLevel)
			if err != nil {
				return err
			}
			cfg.Logger = log
			if env := os.Getenv("PKGSTORE_PUBLISH_TOKEN"); env != "" && len(cfg.Tokens) == 0 {
				cfg.Tokens = strings.Split(env, ",")
			}
			if cfg.MaxUploadSize, err = parseSize(maxZip); err != nil {
				return usageError("--max-upload-size: %v", err)
			}
			if cfg.Limits, err = lim.limits(); err != nil {
				return err
			}
			if cfg.ReadOnly && (len(cfg.Tokens) > 0 || cfg.TokensFile != "") {
				return usageError("--read-only replicas do not publish: drop --publish-token and --tokens-file")
			}
			if !cfg.ReadOnly && cfg.RequireSignatures && len(cfg.Keyrings) == 0 {
				log.Warn("no --keyring given: every publication will be refused until one is (or pass --require-signatures=false)")
			}
			if !cfg.ReadOnly && len(cfg.Tokens) == 0 && cfg.TokensFile == "" {
				log.Info("publishing API disabled: pass --tokens-file, --publish-token or set PKGSTORE_PUBLISH_TOKEN to enable it")
			}
			cfg.WatchInterval = cfg.Registry.WatchInterval
			srv, err := server.New(cmd.Context(), cfg)
			if err != nil {
				return &exitError{Code: 1, Err: err}
			}
			defer srv.Close()
			if err := srv.ListenAndServe(cmd.Context(), addr); err != nil {
				return &exitError{Code: 1, Err: err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "localhost:8080", "address to listen on")
	storageFlags(f, &cfg.Storage)
	f.StringArrayVar(&cfg.Keyrings, "keyring", nil, "file of trusted armored OpenPGP public keys (repeatable; a file may hold several keys)")
	f.BoolVar(&cfg.RequireSignatures, "require-signatures", true, "refuse packages without a detached signature")
	f.StringArrayVar(&cfg.Tokens, "publish-token", nil, "bearer token allowed to publish (repeatable; default from PKGSTORE_PUBLISH_TOKEN, comma-separated)")
	f.StringVar(&cfg.TokensFile, "tokens-file", "", "YAML file of named, scoped tokens (pkgstore token create); reloaded on change and on SIGHUP")
	f.IntVar(&cfg.Workers, "workers", 2, "candidates checked and published at once")
	f.StringVar(&maxZip, "max-upload-size", "251MB", "largest accepted publish request")
	lim.add(f)
	f.BoolVar(&cfg.NoSpecValidation, "no-spec-validation", false, "skip package-spec validation for every package (as if all were --legacy)")
	f.BoolVar(&cfg.ReadOnly, "read-only", false, "only serve: no publishing API, no indexer")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.BoolVar(&cfg.NoUI, "no-ui", false, "do not serve the web catalog at /ui/")
	f.StringVar(&cfg.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics (off when empty)")
	cfg.Registry.AddFlags(f)
	f.StringVar(&cfg.Proxy.Upstream, "proxy-to", "", "EPR's proxy mode: merge this registry's packages with the local ones (docs/registry.md)")
	f.BoolVar(&cfg.Proxy.Cache, "proxy-cache", false, "with --proxy-to: publish each revision downloaded through the proxy into this store (signature verified)")
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
