package registry

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"pkgstore/internal/catalog"
	"pkgstore/internal/index"
	"pkgstore/internal/packageid"
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
	v1Reg     *Registry
	v1Pkgs    []string
	synth     *testStore
	synthReg  *Registry
)

func benchSetup(b *testing.B) {
	benchOnce.Do(func() {
		keepBuckets = true
		defer func() { keepBuckets = false }()
		s := v1Store(b)
		v1Reg = newTestRegistry(b, s, true)
		for _, e := range s.entries {
			v1Pkgs = append(v1Pkgs, "/package/"+e.ID.Name+"/"+e.ID.Version+"/")
		}
		synth = synthetic(b, s, 20000)
		synthReg = newTestRegistry(b, synth, true)
	})
	if v1Reg == nil {
		b.Skip("setup failed")
	}
}

// synthetic builds an index of n revisions by re-versioning the v1 sample's
// documents (real shapes and sizes).
func synthetic(tb testing.TB, v1 *testStore, n int) *testStore {
	s := &testStore{b: v1.b, key: v1.key, seen: map[packageid.ID]bool{}, cursor: 100}
	for i := 0; len(s.entries) < n; i++ {
		for _, e := range v1.entries {
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
	s.writeIndex(tb, nil)
	total := 0
	for _, e := range s.entries {
		total += len(e.Manifest)
	}
	tb.Logf("synthetic index: %d revisions, %d MB of documents", len(s.entries), total>>20)
	return s
}

func benchRoute(b *testing.B, r *Registry, urls []string) {
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

func get2(r *Registry, u string) *httptest.ResponseRecorder {
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
	cat := v1Reg.current().cat
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
	cat := synthReg.current().cat
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
// live heap afterwards.
func BenchmarkSynth20kLoad(b *testing.B) {
	benchSetup(b)
	cursor := fmt.Sprintf("%020d", synth.cursor)
	var heap uint64
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		c, err := catalog.Load(context.Background(), synth.b.Internal, cursor)
		if err != nil {
			b.Fatal(err)
		}
		if c.Len() != 20000 {
			b.Fatalf("%d revisions", c.Len())
		}
		b.StopTimer()
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		heap = after.HeapAlloc - min(before.HeapAlloc, after.HeapAlloc)
		runtime.KeepAlive(c)
		b.StartTimer()
	}
	b.ReportMetric(float64(heap)/(1<<20), "MB-heap")
	c, _ := catalog.Load(context.Background(), synth.b.Internal, cursor)
	d, base := c.Footprint()
	b.Logf("documents %d MB compressed, base JSON %d MB", d>>20, base>>20)
}
