// Package eprdiff is the differential harness between pkgstore and the
// reference Elastic Package Registry (EPR 1.40.1, internal/testkit/eprtest): one
// corpus of zips is published through our real publishing job and served
// by the reference from the same bytes, then lists of requests are sent to
// both and every answer is compared: status, body byte for byte, and the
// headers Fleet and caches see.
//
// Typical use (tests skip when ../shared is absent):
//
//	c := eprdiff.NewCorpus("epr-packages")
//	c.AddV1Folders(t, dir)              // or AddZipDir, AddDir, Add
//	p := eprdiff.Start(t, c, eprdiff.Options{Legacy: true})
//	p.Compare(t, eprdiff.All(p.Revisions())).Expect(t, eprdiff.Known{})
//
// StartStorage instead has the reference read our GCS buckets through its
// storage indexers (see docs/eprdiff.md).
package eprdiff

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"pkgstore/internal/api"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"pkgstore/internal/builder"
	"pkgstore/internal/client"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/registry"
	"pkgstore/internal/server"
	"pkgstore/internal/testkit/eprtest"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
)

// Package is one zip of a corpus.
type Package struct {
	ID     packageid.ID
	Source string // where it comes from, for messages
	Zip    []byte
	// Sig is the detached signature served with the zip; nil means the
	// pair's key signs it (both sides then serve the same bytes).
	Sig []byte
	// Files are the zip's entries below NAME-VERSION/ that are files, in
	// lexical order: the static files both sides serve.
	Files []string
}

// Corpus is an ordered set of packages. A NAME-VERSION given twice keeps
// the first (EPR's first package path wins; our job refuses the later
// copy).
type Corpus struct {
	Name     string
	Packages []Package
	seen     map[packageid.ID]bool
}

// NewCorpus returns an empty corpus called name.
func NewCorpus(name string) *Corpus {
	return &Corpus{Name: name, seen: map[packageid.ID]bool{}}
}

// Add appends zip as revision id unless the corpus already holds id; it
// reports whether it was added.
func (c *Corpus) Add(tb testing.TB, source string, id packageid.ID, zip, sig []byte) bool {
	tb.Helper()
	if c.seen == nil {
		c.seen = map[packageid.ID]bool{}
	}
	if c.seen[id] {
		return false
	}
	files, err := zipFiles(zip, id.String()+"/")
	if err != nil {
		tb.Fatalf("eprdiff: %s: %v", source, err)
	}
	c.seen[id] = true
	c.Packages = append(c.Packages, Package{ID: id, Source: source, Zip: zip, Sig: sig, Files: files})
	return true
}

// AddZipDir adds every NAME-VERSION.zip of dir in lexical order, with its
// .zip.sig when withSigs (the signer's public key must then be passed in
// Options.Keyrings).
func (c *Corpus) AddZipDir(tb testing.TB, dir string, withSigs bool) {
	tb.Helper()
	zips, err := filepath.Glob(filepath.Join(dir, "*.zip"))
	if err != nil {
		tb.Fatal(err)
	}
	sort.Strings(zips)
	for _, z := range zips {
		id, err := packageid.ParseZipName(filepath.Base(z))
		if err != nil {
			tb.Fatalf("eprdiff: %s: %v", z, err)
		}
		data, err := os.ReadFile(z)
		if err != nil {
			tb.Fatal(err)
		}
		var sig []byte
		if withSigs {
			if sig, err = os.ReadFile(z + ".sig"); err != nil {
				tb.Fatal(err)
			}
		}
		c.Add(tb, z, id, data, sig)
	}
}

// AddV1Folders zips every NAME/VERSION/ folder under dir (lexical order)
// with builder.WriteV1, lexically sorted entries, as `pkgstore build --v1`.
func (c *Corpus) AddV1Folders(tb testing.TB, dir string) {
	tb.Helper()
	for _, b := range BuildV1Folders(tb, dir) {
		c.Add(tb, b.Source, b.ID, b.Zip, nil)
	}
}

// Built is one package folder zipped by BuildV1Folders.
type Built struct {
	Source string // the folder, dir/NAME/VERSION
	ID     packageid.ID
	Zip    []byte
}

// BuildV1Folders zips every NAME/VERSION/ folder under dir (lexical order)
// with builder.WriteV1, as `pkgstore build --v1` would; with only, the
// folders of those names alone.
func BuildV1Folders(tb testing.TB, dir string, only ...string) []Built {
	tb.Helper()
	names, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var out []Built
	for _, n := range names {
		if !n.IsDir() || len(only) > 0 && !slices.Contains(only, n.Name()) {
			continue
		}
		versions, err := os.ReadDir(filepath.Join(dir, n.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		for _, v := range versions {
			if !v.IsDir() {
				continue
			}
			src := filepath.Join(dir, n.Name(), v.Name())
			var buf bytes.Buffer
			id, _, err := builder.WriteV1(context.Background(), &buf, src)
			if err != nil {
				tb.Fatalf("eprdiff: build %s: %v", src, err)
			}
			out = append(out, Built{Source: src, ID: id, Zip: buf.Bytes()})
		}
	}
	return out
}

// AddDir zips one package folder (any folder name; NAME and VERSION from
// its manifest) with builder.Write in legacy mode (links kept as they are),
// as generated packages are laid out.
func (c *Corpus) AddDir(tb testing.TB, dir string) packageid.ID {
	tb.Helper()
	id, err := builder.ReadManifestID(dir)
	if err != nil {
		tb.Fatalf("eprdiff: %s: %v", dir, err)
	}
	var buf bytes.Buffer
	if _, err := builder.Write(context.Background(), &buf, dir, id, builder.Options{Legacy: true}); err != nil {
		tb.Fatalf("eprdiff: build %s: %v", dir, err)
	}
	c.Add(tb, dir, id, buf.Bytes(), nil)
	return id
}

// Options say how a pair serves its corpus.
type Options struct {
	// Legacy publishes every zip as legacy (no package-spec validation on
	// our side) and starts the reference with -disable-package-validation.
	Legacy bool
	// Keyrings are public keys of corpus signatures (Package.Sig).
	Keyrings []string
	// Configure edits our store's config (storage backends, cache times).
	Configure func(*server.Config)
	// EPR adds to the reference's options (flags for the storage indexer,
	// environment); PackagePaths defaults to the corpus's zips.
	EPR eprtest.Options
	// NoReference leaves the reference unstarted (StartStorage starts its
	// own, reading our buckets).
	NoReference bool
	// NoPublish publishes nothing at start (the caller publishes batches).
	NoPublish bool
}

// Pair is our store and the reference serving one corpus.
type Pair struct {
	Corpus *Corpus
	Ours   *servertest.Store
	Ref    *eprtest.EPR
	// ZipDir holds NAME-VERSION.zip and .zip.sig exactly as published.
	ZipDir string
	Key    *sigtest.Key
	opts   Options
	// published are the corpus's packages published so far, in order.
	published []Package
}

// Start publishes every package of c through our publishing job (client
// over HTTP, four at a time), waits until each is visible, writes the same
// zips and signatures to a folder and starts the reference over it.
func Start(tb testing.TB, c *Corpus, o Options) *Pair {
	tb.Helper()
	p := StartOurs(tb, c, o)
	if !o.NoReference {
		eo := o.EPR
		if len(eo.PackagePaths) == 0 {
			eo.PackagePaths = []string{p.ZipDir}
		}
		eo.RequireSignatures = true
		// Access logs of thousands of requests would bury a failure.
		eo.Args = append([]string{"-log-level", "warn"}, eo.Args...)
		eo.Validate = !o.Legacy
		p.Ref = eprtest.Start(tb, eo)
	}
	return p
}

// StartOurs starts only our store with c published (Ref stays nil).
func StartOurs(tb testing.TB, c *Corpus, o Options) *Pair {
	tb.Helper()
	// Any test able to start the reference has ../shared; skip before
	// publishing when it is absent.
	eprtest.Script(tb)
	key := sigtest.NewKey(tb, "publisher")
	store := servertest.Start(tb, servertest.Options{Memory: true, Key: key, Configure: func(cfg *server.Config) {
		cfg.Keyrings = append(cfg.Keyrings, o.Keyrings...)
		// EPR's defaults, explicitly: the comparison checks Cache-Control.
		cfg.Registry.CacheTimes = registry.CacheTimes{
			Index:      registry.DefaultCacheTimeIndex,
			Search:     registry.DefaultCacheTimeSearch,
			Categories: registry.DefaultCacheTimeCategories,
			CatchAll:   registry.DefaultCacheTimeCatchAll,
		}
		cfg.Registry.AllowUnknownQueryParams = true
		if o.Configure != nil {
			o.Configure(cfg)
		}
	}})
	p := &Pair{Corpus: c, Ours: store, Key: key, ZipDir: tb.TempDir(), opts: o}
	if !o.NoPublish {
		p.Publish(tb, c.Packages)
	}
	return p
}

// Publish publishes pkgs through our job (they must be new revisions),
// writes them to ZipDir and waits until every one is visible on our side.
func (p *Pair) Publish(tb testing.TB, pkgs []Package) {
	tb.Helper()
	// A copy: the signatures are this pair's, the corpus may serve others.
	pkgs = append([]Package(nil), pkgs...)
	for i := range pkgs {
		if pkgs[i].Sig == nil {
			pkgs[i].Sig = p.Key.Sign(tb, pkgs[i].Zip)
		}
	}
	subs := make([]*api.Submission, len(pkgs))
	errs := make([]error, len(pkgs))
	inParallel(len(pkgs), func(i int) {
		pk := pkgs[i]
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		subs[i], errs[i] = p.Ours.Client.Publish(ctx, pk.ID.ZipName(), bytes.NewReader(pk.Zip), pk.Sig, client.Options{Legacy: p.opts.Legacy})
	})
	for i, pk := range pkgs {
		if errs[i] != nil {
			tb.Fatalf("eprdiff: publish %s: %v", pk.Source, errs[i])
		}
		if subs[i].Status != api.StatusPublished {
			tb.Fatalf("eprdiff: publish %s: %s %v", pk.Source, subs[i].Status, subs[i].Reasons)
		}
		if err := os.WriteFile(filepath.Join(p.ZipDir, pk.ID.ZipName()), pk.Zip, 0o644); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p.ZipDir, pk.ID.ZipName()+".sig"), pk.Sig, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	for _, pk := range pkgs {
		p.Ours.WaitVisible(tb, pk.ID.Name, pk.ID.Version)
	}
	p.published = append(p.published, pkgs...)
}

// Revisions returns the packages published so far, in publishing order.
func (p *Pair) Revisions() []Package { return p.published }

// String names the pair for messages.
func (p *Pair) String() string {
	ref := "<none>"
	if p.Ref != nil {
		ref = p.Ref.URL
	}
	return fmt.Sprintf("corpus %s: ours %s, reference %s", p.Corpus.Name, p.Ours.URL, ref)
}

// zipFiles lists the file entries of a zip below root, relative to it, in
// lexical order.
func zipFiles(data []byte, root string) ([]string, error) {
	names, err := zipEntryNames(data)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		if strings.HasSuffix(n, "/") || !strings.HasPrefix(n, root) {
			continue
		}
		out = append(out, strings.TrimPrefix(n, root))
	}
	sort.Strings(out)
	return out, nil
}

// inParallel calls fn(0) … fn(n-1), at most four at a time (the reference
// and our store share the machine), and returns when all have returned.
func inParallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}
