package ui_test

import (
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"pkgstore/internal/ui"
)

// BenchmarkV1PackagePage renders the package page of every v1 revision in
// turn through the store's handler (no network): "cached" is the page as
// served after its first request in an index snapshot, "cold" renders it
// from the catalog and the bucket each time (README Markdown, changelog,
// zip size). It reports the p50 and p99 of the per-request server time.
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
	run := func(b *testing.B, cold bool) {
		times := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			u := urls[i%len(urls)]
			if cold {
				b.StopTimer()
				h.Forget()
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
		run(b, false)
	})
	b.Run("cold", func(b *testing.B) { run(b, true) })
}
