package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/govern/audit"
	"pkgstore/internal/govern/governapi"
	"pkgstore/internal/govern/tokens"
	"pkgstore/internal/govern/translog"
	"pkgstore/internal/govern/yank"
	"pkgstore/internal/pkg/archive"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/publish"
	"pkgstore/internal/publish/index"
	"pkgstore/internal/publish/indexsig"
	"pkgstore/internal/publish/publishapi"
	"pkgstore/internal/publish/ratelimit"
	"pkgstore/internal/registry"
	"pkgstore/internal/registry/catalog"
	"pkgstore/internal/registry/pkgpath"
	"pkgstore/internal/registry/proxy"
	"pkgstore/internal/server/logging"
	"pkgstore/internal/server/metrics"
	"pkgstore/internal/storage"
)

// Config of a store server.
type Config struct {
	Storage storage.Config
	// Keyrings are files of trusted public keys.
	Keyrings          []string
	RequireSignatures bool
	// StoreKey, if set, signs every publication whose owner's signature
	// verified, and that signature is served (publish.Config.StoreKey).
	StoreKey *signature.SigningKey
	// Tokens allowed to publish (unnamed, every package); none, and no
	// TokensFile, disables the publishing API.
	Tokens []string
	// TokensFile is a YAML file of named, scoped tokens (package tokens),
	// reloaded when it changes and on SIGHUP.
	TokensFile    string
	Workers       int
	Limits        archive.Limits
	MaxUploadSize int64
	// NoSpecValidation skips package-spec validation for every candidate
	// (as if all were legacy).
	NoSpecValidation bool
	// ReadOnly serves buckets written by others: no publishing API, no
	// indexer, no job.
	ReadOnly      bool
	WatchInterval time.Duration
	Registry      registry.Config
	Logger        *slog.Logger
	// AfterStep is passed to the publishing job (fault injection in tests).
	AfterStep func(step string)
	// LogKey is the transparency log's note signer key file: every
	// publication and yank is appended to the log (docs/transparency.md).
	// Without it the log is served read-only, as the bucket holds it.
	LogKey string
	// MetricsAddr, if set, serves Prometheus metrics at /metrics there.
	MetricsAddr string
	// TLS, when it names a key pair, serves HTTPS.
	TLS TLSConfig
	// HTTP bounds connections, requests and shutdown.
	HTTP HTTPLimits
	// PublishRate and PublishBurst limit publications per token a minute
	// (0: no limit); MaxUploads and MaxPending bound the uploads received
	// at once and the submissions held (0: publishapi's defaults).
	PublishRate            float64
	PublishBurst           int
	MaxUploads, MaxPending int
	// MaxUploadsPerToken bounds one token's uploads at once; MinUploadRate
	// (bytes a second, negative: off) and UploadRateWindow cut uploads
	// that send too slowly (0: publishapi's defaults).
	MaxUploadsPerToken int
	MinUploadRate      int64
	UploadRateWindow   time.Duration
	// Proxy, if its Upstream is set, runs EPR's proxy mode (internal/registry/proxy).
	Proxy ProxyConfig
	// StaleWhileRevalidate and StaleIfError, when positive, are added to
	// the Cache-Control of cacheable registry answers, for CDNs
	// (cachedirectives.go; off by default, as in EPR).
	StaleWhileRevalidate, StaleIfError time.Duration
	// NoUI turns the web catalog at /ui/ off.
	NoUI bool
	// PackagePaths are EPR's package_paths: folders of zips and unpacked
	// packages served in place beside the store (internal/registry/pkgpath,
	// docs/package-paths.md). They are validated as EPR validates them
	// unless NoSpecValidation, and need signature files when
	// RequireSignatures.
	PackagePaths []string
	// RequirePackages refuses to start when the package paths serve no
	// package (ErrNoPackages): EPR's check when only its package paths
	// serve.
	RequirePackages bool
	// PackagePathCache is the package paths' cache folder, theirs alone
	// (empty: DATA/package-paths-cache, or no cache without a data folder).
	PackagePathCache string
	// PackagePathWatch is how often the package paths are rescanned (0:
	// never).
	PackagePathWatch time.Duration
	// PackagePathWorkers bounds the packages read at once (0: twice GOMAXPROCS).
	PackagePathWorkers int
	// Version describes this build (buildinfo.Info.Short): in the start
	// log line and in /health?verbose=true.
	Version string
	// PprofAddr, if set, serves net/http/pprof at /debug/pprof/ there
	// (EPR's -httpprof): never on the public listener.
	PprofAddr string
	// Trust configures the signed index statements (trust.go).
	Trust TrustConfig
}

// ProxyConfig configures proxy mode.
type ProxyConfig struct {
	Upstream string
	// Cache publishes every revision downloaded through the proxy into
	// this store (a pull-through cache); it needs the publishing job.
	Cache bool
	// Retry of upstream /search and /categories (zero: EPR's).
	Retry client.Retry
	// The cache's bounds (zero: proxy's defaults; the zip size limit is
	// MaxUploadSize): see proxy.Cache.
	TempDir                     string
	TempBytes                   int64
	MaxPulls, MaxPullsPerClient int
	PullTimeout, BusyWait       time.Duration
	MinRate                     int64
	StallWindow                 time.Duration
	// MaxBytes bounds what the revisions the cache published take in the
	// store (0: no bound); the least recently used are evicted.
	MaxBytes int64
	// Timeout, MaxFails, FailTimeout and StaleMaxBytes are the
	// upstream's failure handling (zero: proxy's defaults): see
	// proxy.Config.
	Timeout, FailTimeout time.Duration
	MaxFails             int
	StaleMaxBytes        int64
}

// Server is a configured store.
type Server struct {
	cfg       Config
	Buckets   *storage.Buckets
	Publisher *publish.Publisher // nil when read-only
	Indexer   *index.Indexer     // nil when read-only
	Registry  *registry.Registry
	Metrics   *metrics.Metrics
	Tokens    *tokens.Store // nil when read-only
	Audit     *audit.Log
	// refusals records named tokens' refusals at a bounded rate (nil
	// when read-only).
	refusals *audit.Refusals
	Yanks    *yank.Store
	// Log is the transparency log (read-only without Config.LogKey).
	Log *translog.Log
	// PublishAPI is the publishing API (nil when read-only).
	PublishAPI *publishapi.API
	// Local is the package paths' packages (nil without package paths).
	Local   *pkgpath.Set
	handler http.Handler
	proxy   *proxy.Proxy // nil without proxy mode
	log     *slog.Logger
	tls     *tls.Config      // nil: plain HTTP
	issuer  *indexsig.Issuer // nil without an index signing key
}

// New opens the buckets and builds every part; nothing runs until Serve.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.WatchInterval <= 0 {
		cfg.WatchInterval = registry.DefaultWatchInterval
	}
	b, err := storage.Open(ctx, cfg.Storage)
	if err != nil {
		return nil, err
	}
	cfg.HTTP = cfg.HTTP.withDefaults()
	tlsCfg, err := cfg.TLS.load()
	if err != nil {
		b.Close()
		return nil, err
	}
	s := &Server{cfg: cfg, Buckets: b, log: cfg.Logger, Metrics: metrics.New(), tls: tlsCfg}
	s.Audit = audit.New(b.Internal)
	s.Yanks = yank.New(b, s.Audit)
	if s.Log, err = openLog(ctx, cfg, b); err != nil {
		b.Close()
		return nil, err
	}
	rcfg := cfg.Registry
	rcfg.Buckets = b
	rcfg.Logger = cfg.Logger
	rcfg.Build = cfg.Version
	rcfg.Hidden = registry.NewYanked(b.Internal, s.Yanks.Hidden)
	if len(cfg.PackagePaths) > 0 {
		if s.Local, err = openPackagePaths(ctx, cfg); err != nil {
			b.Close()
			return nil, err
		}
		rcfg.Local = s.Local
	}
	if cfg.RequirePackages && (s.Local == nil || s.Local.Current().Len() == 0) {
		b.Close()
		return nil, ErrNoPackages
	}
	if err := s.trustRegistry(&rcfg); err != nil {
		b.Close()
		return nil, err
	}
	if s.Registry, err = registry.New(rcfg); err != nil {
		b.Close()
		return nil, fmt.Errorf("registry: %w", err)
	}
	if cfg.ReadOnly {
		if cfg.Proxy.Cache {
			b.Close()
			return nil, errors.New("a read-only store cannot be a pull-through cache")
		}
		h, err := s.withProxy(s.Registry, nil)
		if err == nil {
			h, err = s.withUI(h)
		}
		if err != nil {
			b.Close()
			return nil, err
		}
		s.handler = logging.Middleware(cfg.Logger, limitURI(cfg.HTTP.MaxURILength, s.Metrics.Instrument(withLog(s.Log, s.withTrust(h)))))
		return s, nil
	}
	var keyring *signature.Keyring
	if len(cfg.Keyrings) > 0 {
		if keyring, err = signature.LoadKeyring(cfg.Keyrings...); err != nil {
			b.Close()
			return nil, err
		}
	}
	s.Indexer = index.NewIndexer(b, cfg.Logger)
	s.Indexer.Check = catalog.Check
	s.Indexer.Snapshot = catalog.WriteSnapshot
	s.Indexer.Hidden = s.Yanks.Hidden
	if s.issuer, err = SignIndexer(s.Indexer, b, cfg.Trust, cfg.Logger); err != nil {
		b.Close()
		return nil, err
	}
	s.Yanks.OnChange = func(packageid.ID) { s.Indexer.Trigger() }
	s.Indexer.OnPass = func(res index.Result, took time.Duration, err error) {
		s.Metrics.ObserveIndexPass(res.Moved, res.Total, took, err)
	}
	s.Indexer.OnIndexed = func(string) {
		// Make our own publications visible at once, without waiting for
		// the next poll.
		if err := s.Registry.Reload(context.Background()); err != nil {
			s.log.Error("reload index", "err", err)
		}
	}
	pcfg := jobConfig(cfg, b, keyring, s.Audit)
	pcfg.Shadowed = s.shadowed
	if s.Log.Writable() {
		pcfg.Log = s.Log
		s.Yanks.Log = s.Log.AppendChange
	}
	pcfg.OnPublished = func(packageid.ID) {
		// The last of a burst is indexed at once; the others wait
		// for the indexer's MinInterval and share its passes.
		if s.Publisher.Pending() <= 1 {
			s.Indexer.TriggerNow()
		} else {
			s.Indexer.Trigger()
		}
	}
	pcfg.OnFinished = func(sub *api.Submission, took time.Duration) {
		s.Metrics.ObserveSubmission(string(sub.Status), took)
	}
	if s.Publisher, err = publish.New(pcfg); err != nil {
		b.Close()
		return nil, err
	}
	s.refusals = audit.NewRefusals(s.Audit, audit.DefaultRefusalLimits, cfg.Logger)
	if s.Tokens, err = newTokens(cfg, s.refusals); err != nil {
		b.Close()
		return nil, err
	}
	s.Registry.ReportTokens(s.Tokens.Health)
	s.PublishAPI = publishapi.New(publishapi.Config{Publisher: s.Publisher, Auth: s.Tokens, MaxUploadSize: cfg.MaxUploadSize, Logger: cfg.Logger,
		RateLimit: ratelimit.New(cfg.PublishRate, cfg.PublishBurst), MaxUploads: cfg.MaxUploads, MaxPending: cfg.MaxPending, UploadTimeout: cfg.HTTP.UploadTimeout,
		MaxUploadsPerToken: cfg.MaxUploadsPerToken, MinUploadRate: cfg.MinUploadRate, UploadRateWindow: cfg.UploadRateWindow})
	gov := governapi.New(governapi.Config{Auth: s.Tokens, Audit: s.Audit, Yanks: s.Yanks, Buckets: b, Logger: cfg.Logger})
	logh := registry.LogHandler(s.Log)
	// No http.ServeMux here: it would answer unclean paths (//, ..) with its
	// own 307, where EPR (and so the registry) answers 301.
	reg, err := s.withProxy(s.Registry, keyring)
	if err == nil {
		reg, err = s.withUI(reg)
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	s.handler = logging.Middleware(cfg.Logger, limitURI(cfg.HTTP.MaxURILength, s.Metrics.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/publish") {
			s.PublishAPI.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, registry.LogPrefix) {
			logh.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, registry.TrustPrefix) {
			s.Registry.ServeTrust(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/api/v1/") {
			gov.ServeHTTP(w, r)
			return
		}
		reg.ServeHTTP(w, r)
	}))))
	return s, nil
}

// withProxy wraps the registry in proxy mode when configured.
func (s *Server) withProxy(reg *registry.Registry, keyring *signature.Keyring) (http.Handler, error) {
	pc := s.cfg.Proxy
	if pc.Upstream == "" {
		if pc.Cache {
			return nil, errors.New("--proxy-cache needs --proxy-to")
		}
		return withCacheDirectives(reg, s.cfg.StaleWhileRevalidate, s.cfg.StaleIfError), nil
	}
	cfg := proxy.Config{Upstream: pc.Upstream, Local: reg, Retry: pc.Retry, Logger: s.log,
		Timeout: pc.Timeout, MaxFails: pc.MaxFails, FailTimeout: pc.FailTimeout, StaleMaxBytes: pc.StaleMaxBytes}
	if pc.Cache {
		cfg.Cache = &proxy.Cache{Keyring: keyring, Publish: s.publishLegacy, TempDir: pc.TempDir, TempBytes: pc.TempBytes,
			MaxZipSize: s.cfg.MaxUploadSize, PullTimeout: pc.PullTimeout, MinRate: pc.MinRate, StallWindow: pc.StallWindow,
			MaxPulls: pc.MaxPulls, MaxPullsPerClient: pc.MaxPullsPerClient, BusyWait: pc.BusyWait,
			MaxBytes: pc.MaxBytes, Footprint: s.Publisher.Footprint, Evict: s.evict, Records: s.Buckets.Internal}
	}
	p, err := proxy.New(cfg)
	if err != nil {
		return nil, err
	}
	s.proxy = p
	reg.ReportUpstream(p.Health)
	s.Metrics.WatchUpstream(p.Stats)
	return withCacheDirectives(p, s.cfg.StaleWhileRevalidate, s.cfg.StaleIfError), nil
}

// publishLegacy publishes a revision already published elsewhere (no
// package-spec check) and waits for the outcome; a duplicate is success
// (created false).
func (s *Server) publishLegacy(ctx context.Context, zipName string, zip io.Reader, sig []byte) (bool, error) {
	sub, present, err := client.PublishLegacy(ctx, localPublisher{s.Publisher}, zipName, zip, sig, client.Options{})
	return err == nil && !present && sub != nil && sub.Status == api.StatusPublished, err
}

// evict withdraws a revision the pull-through cache published and has
// the index drop it at once.
func (s *Server) evict(ctx context.Context, id packageid.ID) error {
	err := s.Publisher.Evict(ctx, id)
	s.Indexer.TriggerNow()
	return err
}

// localPublisher is the store's own publishing job as a client.Publisher.
type localPublisher struct{ p *publish.Publisher }

func (l localPublisher) Publish(ctx context.Context, zipName string, zip io.Reader, sig []byte, opts client.Options) (*api.Submission, error) {
	sub, err := l.p.Submit(ctx, publish.Candidate{FileName: zipName, Zip: zip, Signature: sig, Options: publish.Options{Legacy: opts.Legacy, DryRun: opts.DryRun, UpstreamSignature: opts.UpstreamSignature}})
	if err != nil || sub.Status.Final() {
		return sub, err
	}
	return l.p.Wait(ctx, sub.ID)
}

// Handler is the whole HTTP API.
func (s *Server) Handler() http.Handler { return s.handler }

// Close writes the summaries of suppressed token refusals still counted
// (Serve does when it returns; this is for a handler used without it) and
// closes the buckets.
func (s *Server) Close() error {
	if s.proxy != nil {
		s.proxy.Close()
	}
	if s.refusals != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s.refusals.Flush(ctx)
		cancel()
	}
	return s.Buckets.Close()
}

// Serve runs everything on ln until ctx is done, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	// Open every listener before any goroutine starts, so a failure here
	// leaves nothing running.
	if s.cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", s.cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("metrics listener on %s: %w", s.cfg.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", s.Metrics.Handler())
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go ms.Serve(mln)
		defer ms.Close()
		s.log.Info("serving metrics", "addr", mln.Addr().String())
	}
	if s.cfg.PprofAddr != "" {
		stop, err := s.servePprof()
		if err != nil {
			return err
		}
		defer stop()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Refusals are counted until the last request is done.
	refusalsCtx, refusalsDone := context.WithCancel(context.WithoutCancel(ctx))
	defer refusalsDone()
	var wg sync.WaitGroup
	run := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	if s.Indexer != nil {
		// Catch up with publications made while we were down (or by zips
		// copied into the bucket) before serving.
		if res, err := s.Indexer.Index(ctx); err != nil {
			s.log.Error("initial indexing", "err", err)
		} else {
			s.log.Info("index ready", "cursor", res.Cursor, "packages", res.Total)
		}
	}
	if err := s.Registry.Reload(ctx); err != nil {
		s.log.Error("initial index load", "err", err)
	}
	run(func(ctx context.Context) { s.Registry.Watch(ctx, s.cfg.WatchInterval) })
	if s.Local != nil {
		run(func(ctx context.Context) {
			s.Local.Watch(ctx, s.cfg.PackagePathWatch, func() {
				if err := s.Registry.LocalChanged(); err != nil {
					s.log.Error("package paths", "err", err)
				}
			})
		})
	}
	if s.Indexer != nil {
		run(func(ctx context.Context) { s.Tokens.Run(ctx, tokens.DefaultPollInterval) })
		// Writes the summaries of suppressed refusals as their windows
		// end, and the open ones once the requests are done (below).
		wg.Add(1)
		go func() { defer wg.Done(); s.refusals.Run(refusalsCtx) }()
		run(s.Indexer.Run)
		if s.issuer != nil {
			run(s.resignLoop)
		}
		run(s.Publisher.Run)
	}
	// Uploads extend their own connection's deadlines (publishapi), so the
	// read timeout can stay short for everything else.
	lim := s.cfg.HTTP
	hs := &http.Server{Handler: s.handler, BaseContext: func(net.Listener) context.Context { return ctx },
		ReadHeaderTimeout: lim.ReadHeaderTimeout, ReadTimeout: lim.ReadTimeout, WriteTimeout: lim.WriteTimeout,
		IdleTimeout: lim.IdleTimeout, MaxHeaderBytes: lim.MaxHeaderBytes,
		// net/http's own complaints (TLS handshakes, panics) in our format.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	// Far deadlines are swept rather than armed per request (deadlines.go).
	dl := newDeadlineListener(ln, lim)
	ln = dl
	run(dl.run)
	if s.tls != nil {
		hs.TLSConfig = s.tls
		ln = tls.NewListener(ln, s.tls)
	}
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("serving", "addr", ln.Addr().String(), "version", s.cfg.Version, "public_url", s.Registry.PublicURL(), "read_only", s.cfg.ReadOnly, "tls", s.tls != nil)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), lim.ShutdownGrace)
	defer scancel()
	_ = hs.Shutdown(sctx)
	cancel()
	refusalsDone()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// ListenAndServe listens on addr (host:port) and calls Serve.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := listen(ctx, addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// IsLoopback reports whether addr listens only on a loopback interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ErrNoPackages is EPR's refusal to start without a package, in its
// words (Config.RequirePackages).
var ErrNoPackages = errors.New("No local packages found.")

// openPackagePaths scans the package paths once; a package that does not
// load stops the start, as it stops EPR's.
func openPackagePaths(ctx context.Context, cfg Config) (*pkgpath.Set, error) {
	dir := cfg.PackagePathCache
	if dir == "" && cfg.Storage.DataDir != "" && (cfg.Storage.PublicURL == "" || cfg.Storage.InternalURL == "") {
		dir = cfg.Storage.DataDir
	}
	if cfg.PackagePathCache == "" && dir != "" {
		dir = filepath.Join(dir, pkgpath.DefaultCacheDir)
	}
	defer tightenGC()() // the first scan makes the process's peak heap
	set, err := pkgpath.Open(ctx, pkgpath.Config{
		Paths:    cfg.PackagePaths,
		Options:  pkgpath.Options{Validate: !cfg.NoSpecValidation, RequireSignatures: cfg.RequireSignatures},
		CacheDir: dir,
		Workers:  cfg.PackagePathWorkers,
		Logger:   cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("package paths: %w", err)
	}
	return set, nil
}

// shadowed reports whether a package path serves id (the publishing job
// refuses it: see docs/package-paths.md).
func (s *Server) shadowed(id packageid.ID) (string, bool) {
	if s.Local == nil {
		return "", false
	}
	return s.Local.Has(id)
}
