package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/publish/index"
	"pkgstore/internal/registry"
	"pkgstore/internal/registry/catalog"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/catalogbench"
	"pkgstore/internal/testkit/processtest"
)

// fleetSearches is the /search mix Kibana Fleet sends (several Kibana
// versions, with and without prerelease, one package lookups).
var fleetSearches = []string{
	"/search?prerelease=false&kibana.version=8.15.0&capabilities=observability,security&spec.min=2.3&spec.max=3.5",
	"/search?prerelease=true&kibana.version=8.15.0&capabilities=observability,security&spec.min=2.3&spec.max=3.5",
	"/search?prerelease=false&kibana.version=8.0.0",
	"/search?prerelease=false&kibana.version=7.16.0&category=security",
	"/search?package=aws&prerelease=true&kibana.version=8.15.0",
	"/search?package=system&kibana.version=8.15.0",
}

var (
	benchOnce sync.Once
	v1Reg     *registry.Registry
	v1Pkgs    []string
	synth     *synthIndex
	synthReg  *registry.Registry
)

// synthIndex is an index written straight into buckets, for sizes the
// publishing job cannot reach in a benchmark's setup time.
type synthIndex struct {
	b       *storage.Buckets
	cursor  string
	entries []index.Entry
}

func benchSetup(b *testing.B) {
	benchOnce.Do(func() {
		f := v1Store(b)
		v1Reg = f.store.Server.Registry
		for _, c := range f.published {
			v1Pkgs = append(v1Pkgs, "/package/"+c.id.Name+"/"+c.id.Version+"/")
		}
		synth = synthetic(b, f, 20000)
		var err error
		if synthReg, err = registry.New(registry.Config{Buckets: synth.b, CacheTimes: testCacheTimes, AllowUnknownQueryParams: true, Logger: slog.New(slog.DiscardHandler)}); err != nil {
			b.Fatal(err)
		}
		if err := synthReg.Reload(context.Background()); err != nil {
			b.Fatal(err)
		}
	})
	if synthReg == nil {
		b.Skip("setup failed")
	}
}

// synthetic builds an index of n revisions by re-versioning the documents
// the job wrote for the v1 sample (real shapes and sizes), in buckets that
// live as long as the process.
func synthetic(tb testing.TB, v1 *fixture, n int) *synthIndex {
	ctx := context.Background()
	var docs []index.Entry
	for _, c := range v1.published {
		doc, err := v1.store.Server.Buckets.Internal.ReadAll(ctx, storage.DocumentKey(c.id))
		if err != nil {
			tb.Fatal(err)
		}
		docs = append(docs, index.Entry{ID: c.id, Manifest: doc})
	}
	pub, err := storage.OpenURL(ctx, "mem://")
	if err != nil {
		tb.Fatal(err)
	}
	in, err := storage.OpenURL(ctx, "mem://")
	if err != nil {
		tb.Fatal(err)
	}
	s := &synthIndex{b: &storage.Buckets{Public: pub, Internal: in}, cursor: fmt.Sprintf("%020d", 101)}
	processtest.Wrap(tb).Cleanup(func() { s.b.Close() })
	for i := 0; len(s.entries) < n; i++ {
		for _, e := range docs {
			if len(s.entries) == n {
				break
			}
			nv := fmt.Sprintf("%d.%d.%d", 100+i, len(s.entries)%7, len(s.entries)%5)
			doc := bytes.ReplaceAll(e.Manifest, []byte("/"+e.ID.Name+"/"+e.ID.Version), []byte("/"+e.ID.Name+"/"+nv))
			doc = bytes.ReplaceAll(doc, []byte(e.ID.Name+"-"+e.ID.Version+".zip"), []byte(e.ID.Name+"-"+nv+".zip"))
			doc = bytes.Replace(doc, []byte(`"version": "`+e.ID.Version+`"`), []byte(`"version": "`+nv+`"`), 1)
			s.entries = append(s.entries, index.Entry{ID: packageid.ID{Name: e.ID.Name, Version: nv}, Manifest: doc})
		}
	}
	s.write(tb)
	total := 0
	for _, e := range s.entries {
		total += len(e.Manifest)
	}
	tb.Logf("synthetic index: %d revisions, %d MB of documents", len(s.entries), total>>20)
	return s
}

// write writes the cursor's search-index-all.json, then cursor.json: the
// indexer's commit order.
func (s *synthIndex) write(tb testing.TB) {
	ctx := context.Background()
	var buf bytes.Buffer
	buf.WriteString(`{"packages":[`)
	for i, e := range s.entries {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`{"package_manifest":`)
		buf.Write(e.Manifest)
		buf.WriteByte('}')
	}
	buf.WriteString("]}\n")
	if err := s.b.Internal.WriteFile(ctx, storage.IndexAllKey(s.cursor), &buf, nil); err != nil {
		tb.Fatal(err)
	}
	c, _ := json.Marshal(map[string]string{"current": s.cursor})
	if err := s.b.Internal.WriteFile(ctx, storage.CursorKey, bytes.NewReader(c), nil); err != nil {
		tb.Fatal(err)
	}
}

func benchRoute(b *testing.B, r *registry.Registry, urls []string) {
	b.Helper()
	// Warm: the first request of each query renders and caches.
	for _, u := range urls {
		if w := get2(r, u); w.Code != 200 {
			b.Fatalf("%s: %d", u, w.Code)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("GET", urls[i%len(urls)], nil))
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

func get2(r *registry.Registry, u string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", u, nil))
	return w
}

func BenchmarkV1Search(b *testing.B) {
	benchSetup(b)
	benchRoute(b, v1Reg, fleetSearches)
}

// BenchmarkV1SearchUncached measures the filter and rendering themselves.
func BenchmarkV1SearchUncached(b *testing.B) {
	benchSetup(b)
	cat := v1Reg.CatalogForTest()
	fs := make([]catalog.Filter, len(fleetSearches))
	for i, u := range fleetSearches {
		f, err := catalog.ParseSearch(httptest.NewRequest("GET", u, nil).URL.Query(), true)
		if err != nil {
			b.Fatal(err)
		}
		fs[i] = f
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := cat.SearchJSON(fs[i%len(fs)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkV1SearchAll(b *testing.B) {
	benchSetup(b)
	benchRoute(b, v1Reg, []string{"/search?all=true"})
}

func BenchmarkV1Categories(b *testing.B) {
	benchSetup(b)
	benchRoute(b, v1Reg, []string{"/categories?prerelease=false&kibana.version=8.15.0&include_policy_templates=true", "/categories"})
}

func BenchmarkV1PackageIndex(b *testing.B) {
	benchSetup(b)
	benchRoute(b, v1Reg, v1Pkgs)
}

func BenchmarkSynth20kSearch(b *testing.B) {
	benchSetup(b)
	benchRoute(b, synthReg, fleetSearches)
}

func BenchmarkSynth20kSearchUncached(b *testing.B) {
	benchSetup(b)
	cat := synthReg.CatalogForTest()
	f, _ := catalog.ParseSearch(httptest.NewRequest("GET", "/search?prerelease=false&kibana.version=8.15.0", nil).URL.Query(), true)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := cat.SearchJSON(f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSynth20kSearchAll(b *testing.B) {
	benchSetup(b)
	benchRoute(b, synthReg, []string{"/search?all=true"})
}

func BenchmarkSynth20kCategories(b *testing.B) {
	benchSetup(b)
	benchRoute(b, synthReg, []string{"/categories?prerelease=false&kibana.version=8.15.0&include_policy_templates=true"})
}

func BenchmarkSynth20kPackageIndex(b *testing.B) {
	benchSetup(b)
	var urls []string
	for i, e := range synth.entries {
		if i%97 == 0 {
			urls = append(urls, "/package/"+e.ID.Name+"/"+e.ID.Version+"/")
		}
	}
	benchRoute(b, synthReg, urls)
}

// BenchmarkSynth20kLoad loads the 20,000-revision index and reports the
// live heap afterwards and the CPU time a load takes (all threads, the
// collector included): on a busy machine ns/op measures the machine, the
// CPU time measures the load. The collections that clear the previous
// iteration's catalog run outside the timer.
func BenchmarkSynth20kLoad(b *testing.B) {
	benchSetup(b)
	catalogbench.Load(b, synth.b.Internal, synth.cursor, 20000)
}
