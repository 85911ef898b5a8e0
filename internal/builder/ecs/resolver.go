// Package ecs resolves fields marked `external: ecs` in source packages:
// it fetches the Elastic Common Schema's generated/ecs/ecs_nested.yml for
// the reference a package names in _dev/build/build.yml, checks it, caches
// it, and replaces each external field by its ECS definition exactly as
// elastic-package does.
package ecs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"pkgstore/internal/builder/buildmanifest"
)

// DefaultBaseURL is where ECS schemas come from unless told otherwise:
// BASE/REF/generated/ecs/ecs_nested.yml.
const DefaultBaseURL = "https://raw.githubusercontent.com/elastic/ecs"

// BaseURLEnv names the environment variable that overrides DefaultBaseURL.
const BaseURLEnv = "PKGSTORE_ECS_BASE_URL"

// ElasticPackageBaseURLEnv is the variable elastic-package users set for
// the same purpose; BaseURLEnv wins when both are set.
const ElasticPackageBaseURLEnv = "ELASTIC_PACKAGE_ECS_BASE_URL"

// BaseURLFromEnv returns the ECS base URL the environment sets:
// $PKGSTORE_ECS_BASE_URL, else $ELASTIC_PACKAGE_ECS_BASE_URL, else "" (the
// default). getenv is os.Getenv in production.
func BaseURLFromEnv(getenv func(string) string) string {
	if v := getenv(BaseURLEnv); v != "" {
		return v
	}
	return getenv(ElasticPackageBaseURLEnv)
}

// SchemaPath is the schema file below BASE/REF/.
const SchemaPath = "generated/ecs/ecs_nested.yml"

// cacheFile is the name of a cached schema in CACHE/REF/.
const cacheFile = "ecs_nested.yml"

// MaxSchemaSize bounds a downloaded schema (releases are about 1 MB).
const MaxSchemaSize = 64 << 20

// ErrUnknownReference is returned (wrapped) when the ECS reference does
// not exist at the base (HTTP 404, or no such file below a file:// base).
var ErrUnknownReference = errors.New("ECS reference does not exist")

// refPattern is what a reference may look like: it becomes a URL path
// segment and a cache folder name.
var refPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._+-]*$`)

// Resolver fetches, checks and caches ECS schemas. Its zero value uses
// DefaultBaseURL and DefaultCacheDir. Resolve is safe for concurrent use
// and fetches each reference at most once per Resolver.
type Resolver struct {
	// BaseURL is http(s)://… or file:///folder; "" means DefaultBaseURL.
	BaseURL string
	// CacheDir holds REF/ecs_nested.yml; "" means DefaultCacheDir().
	CacheDir string
	// Client does the downloads; nil means a client without its own timeout
	// (Timeout bounds each attempt).
	Client *http.Client
	// Timeout bounds one download attempt; 0 means 2 minutes.
	Timeout time.Duration
	// Attempts is how many times a download failing with a network error or
	// a 5xx is tried; 0 means 3.
	Attempts int
	// Backoff is the wait before the second attempt, doubled after each;
	// 0 means 500ms, negative means none.
	Backoff time.Duration

	mu      sync.Mutex
	schemas map[string]*entry
}

type entry struct {
	done   chan struct{}
	schema *Schema
	err    error
}

// DefaultCacheDir is os.UserCacheDir()/pkgstore/ecs.
func DefaultCacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("user cache folder: %w", err)
	}
	return filepath.Join(d, "pkgstore", "ecs"), nil
}

// ForPackage reads pkgDir's build manifest and resolves its ECS reference.
// It returns nil, with no error, when the package names none.
func (r *Resolver) ForPackage(ctx context.Context, pkgDir string) (*Schema, error) {
	m, ok, err := buildmanifest.Read(pkgDir)
	if err != nil || !ok {
		return nil, err
	}
	ref, err := m.ECSRef()
	if err != nil || ref == "" {
		return nil, err
	}
	return r.Resolve(ctx, ref)
}

// Resolve returns the schema of ECS reference ref (the REF of "git@REF":
// a tag such as v8.11.0, a branch such as 8.11, or a commit), from the cache
// when it holds it, else from the base URL, caching what it downloaded.
func (r *Resolver) Resolve(ctx context.Context, ref string) (*Schema, error) {
	if !refPattern.MatchString(ref) || strings.Contains(ref, "..") {
		return nil, fmt.Errorf("ECS reference %q: only letters, digits and . _ + - are allowed", ref)
	}
	r.mu.Lock()
	if r.schemas == nil {
		r.schemas = map[string]*entry{}
	}
	e, ok := r.schemas[ref]
	if !ok {
		e = &entry{done: make(chan struct{})}
		r.schemas[ref] = e
		r.mu.Unlock()
		e.schema, e.err = r.load(ctx, ref)
		close(e.done)
		if e.err != nil { // let a later call try again
			r.mu.Lock()
			delete(r.schemas, ref)
			r.mu.Unlock()
		}
		return e.schema, e.err
	}
	r.mu.Unlock()
	select {
	case <-e.done:
		return e.schema, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (r *Resolver) base() string {
	b := r.BaseURL
	if b == "" {
		b = DefaultBaseURL
	}
	return strings.TrimRight(b, "/")
}

func (r *Resolver) load(ctx context.Context, ref string) (*Schema, error) {
	base := r.base()
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("ECS base URL %q: %w", base, err)
	}
	switch u.Scheme {
	case "file":
		return r.loadFile(u, ref)
	case "http", "https":
	default:
		return nil, fmt.Errorf("ECS base URL %q: scheme must be http, https or file", base)
	}

	cacheDir := r.CacheDir
	if cacheDir == "" {
		if cacheDir, err = DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	cached := filepath.Join(cacheDir, ref, cacheFile)
	if b, err := os.ReadFile(cached); err == nil {
		if s, perr := Parse(ref, b); perr == nil {
			return s, nil
		}
		// A damaged cache entry (written by something else, or a disk
		// problem) is replaced by a fresh download.
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read cached ECS schema: %w", err)
	}

	src := base + "/" + ref + "/" + SchemaPath
	b, err := r.download(ctx, src, ref)
	if err != nil {
		return nil, err
	}
	s, err := Parse(ref, b)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", src, err)
	}
	if err := writeAtomic(cached, b); err != nil {
		return nil, fmt.Errorf("cache ECS schema %s: %w", ref, err)
	}
	return s, nil
}

// loadFile reads BASE/REF/generated/ecs/ecs_nested.yml from a local
// folder; nothing is cached (the folder is the cache).
func (r *Resolver) loadFile(u *url.URL, ref string) (*Schema, error) {
	dir := u.Path
	if u.Host != "" && u.Host != "localhost" {
		return nil, fmt.Errorf("ECS base URL %s: a file:// URL must name a local folder (file:///path)", u)
	}
	p := filepath.Join(filepath.FromSlash(dir), ref, filepath.FromSlash(SchemaPath))
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s (no %s)", ErrUnknownReference, ref, p)
	}
	if err != nil {
		return nil, fmt.Errorf("read ECS schema: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSchemaSize+1))
	if err != nil {
		return nil, fmt.Errorf("read ECS schema %s: %w", p, err)
	}
	if len(b) > MaxSchemaSize {
		return nil, fmt.Errorf("ECS schema %s is larger than %d bytes", p, MaxSchemaSize)
	}
	s, err := Parse(ref, b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return s, nil
}

// download fetches src, retrying network errors and 5xx answers.
func (r *Resolver) download(ctx context.Context, src, ref string) ([]byte, error) {
	attempts := r.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	backoff := r.Backoff
	if backoff == 0 {
		backoff = 500 * time.Millisecond
	}
	var last error
	for i := 0; i < attempts; i++ {
		if i > 0 && backoff > 0 {
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, fmt.Errorf("download ECS schema %s: %w (last error: %v)", ref, ctx.Err(), last)
			case <-t.C:
			}
			backoff *= 2
		}
		b, retry, err := r.get(ctx, src, ref)
		if err == nil {
			return b, nil
		}
		last = err
		if !retry || ctx.Err() != nil {
			break
		}
	}
	return nil, last
}

func (r *Resolver) get(ctx context.Context, src, ref string) (b []byte, retry bool, err error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, false, fmt.Errorf("download ECS schema: %w", err)
	}
	client := r.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		if uerr := asUnreachable(err, src, ref); uerr != nil {
			return nil, true, uerr
		}
		return nil, true, fmt.Errorf("download %s: %w", src, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, false, fmt.Errorf("%w: %s (HTTP 404 from %s)", ErrUnknownReference, ref, src)
	case resp.StatusCode >= 500:
		return nil, true, fmt.Errorf("download %s: HTTP %s", src, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, false, fmt.Errorf("download %s: HTTP %s", src, resp.Status)
	}
	// A body shorter than its Content-Length, or a chunked body cut off,
	// is an error here (io.ErrUnexpectedEOF); Parse catches the rest.
	b, err = io.ReadAll(io.LimitReader(resp.Body, MaxSchemaSize+1))
	if err != nil {
		return nil, true, fmt.Errorf("download %s: %w", src, err)
	}
	if len(b) > MaxSchemaSize {
		return nil, false, fmt.Errorf("download %s: larger than %d bytes", src, MaxSchemaSize)
	}
	return b, false, nil
}

// writeAtomic writes b to p through a temporary file in the same folder
// and a rename, so that a reader never sees a partial file.
func writeAtomic(p string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}
