package ui_test

import (
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"pkgstore/internal/registry/ui"
)

// BenchmarkV1PackagePage serves the package page of every v1 revision in
// turn through the catalog's handler (no network) and reports the p50 and
// p99 of the per-request server time:
//
//   - cached: the page as served after its first request in an index
//     snapshot (the common case);
//   - new-index: the first request after the index moved: the page is
//     rendered again, the revision's README, changelog and zip size are
//     kept (published revisions never change);
//   - cold: everything from scratch: package document from the catalog,
//     README and changelog read from the bucket and rendered, zip size.
func BenchmarkV1PackagePage(b *testing.B) {
	f := v1Store(b)
	cat := f.store.Server.Registry.Catalog()
	var urls []string
	for _, r := range cat.Revisions() {
		urls = append(urls, "/ui/package/"+r.ID.Name+"/"+r.ID.Version+"/")
	}
	h, err := ui.New(ui.Config{Catalog: f.store.Server.Registry.Catalog, Public: f.store.Server.Buckets.Public})
	if err != nil {
		b.Fatal(err)
	}
	serve := func(b *testing.B, u string) {
		req := httptest.NewRequest(http.MethodGet, u, nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("%s: %d", u, w.Code)
		}
	}
	run := func(b *testing.B, forget func()) {
		times := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			u := urls[i%len(urls)]
			if forget != nil {
				b.StopTimer()
				forget()
				b.StartTimer()
			}
			start := time.Now()
			serve(b, u)
			times = append(times, time.Since(start))
		}
		b.StopTimer()
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		b.ReportMetric(float64(times[len(times)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(times[len(times)*99/100].Microseconds()), "p99-µs")
	}
	b.Run("cached", func(b *testing.B) {
		for _, u := range urls {
			serve(b, u)
		}
		run(b, nil)
	})
	b.Run("new-index", func(b *testing.B) {
		for _, u := range urls {
			serve(b, u)
		}
		run(b, h.ForgetPages)
	})
	b.Run("cold", func(b *testing.B) { run(b, h.Forget) })
}

// BenchmarkV1Home renders the home page over the v1 sample for queries not
// seen before in the snapshot (page not cached, package summaries built),
// and "cold" (summaries built too): all packages, a text search, and a
// category with the Kibana filter.
func BenchmarkV1Home(b *testing.B) {
	f := v1Store(b)
	h, err := ui.New(ui.Config{Catalog: f.store.Server.Registry.Catalog, Public: f.store.Server.Buckets.Public})
	if err != nil {
		b.Fatal(err)
	}
	serve := func(b *testing.B, u string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, u, nil))
		if w.Code != http.StatusOK {
			b.Fatalf("%s: %d", u, w.Code)
		}
	}
	for _, u := range []string{"/ui/", "/ui/?q=logs", "/ui/?category=security&kibana=8.15.0"} {
		b.Run("new query "+u, func(b *testing.B) {
			serve(b, u)
			for i := 0; i < b.N; i++ {
				h.ForgetPages()
				serve(b, u)
			}
		})
	}
	b.Run("cold /ui/", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			h.Forget()
			serve(b, "/ui/")
		}
	})
}
