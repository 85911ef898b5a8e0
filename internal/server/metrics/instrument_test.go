package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

// TestInstrumentMatchesPromhttp sends the same requests through Instrument
// and through the promhttp middleware it replaces, over real loopback
// servers, and compares the counters and histogram counts label for label.
func TestInstrumentMatchesPromhttp(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte("ok"))
		case "/empty": // headers only, no WriteHeader, no body
		case "/missing":
			http.Error(w, "no", http.StatusNotFound)
		case "/teapot":
			w.WriteHeader(http.StatusTeapot)
		case "/copy":
			io.Copy(w, strings.NewReader("streamed through ReadFrom"))
		case "/flush":
			w.(http.Flusher).Flush()
			w.Write([]byte("late"))
		case "/controller":
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("ResponseController.Flush: %v", err)
			}
		}
	})
	ours := New()
	theirs := New()
	reference := promhttp.InstrumentHandlerCounter(theirs.HTTPRequests,
		promhttp.InstrumentHandlerTimeToWriteHeader(theirs.HTTPSeconds, handler))
	servers := []*httptest.Server{httptest.NewServer(ours.Instrument(handler)), httptest.NewServer(reference)}
	for _, s := range servers {
		defer s.Close()
	}
	requests := []struct{ method, path string }{
		{"GET", "/ok"}, {"GET", "/ok"}, {"HEAD", "/ok"}, {"GET", "/empty"}, {"GET", "/missing"},
		{"POST", "/missing"}, {"GET", "/teapot"}, {"PUT", "/copy"}, {"GET", "/flush"},
		{"GET", "/controller"}, {"PROPFIND", "/ok"}, {"OPTIONS", "/ok"}, {"DELETE", "/missing"},
	}
	for _, rq := range requests {
		for _, s := range servers {
			req, _ := http.NewRequest(rq.method, s.URL+rq.path, nil)
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	for _, c := range []struct {
		name         string
		ours, theirs prometheus.Collector
		// Latencies differ between the two runs; counts must not.
		onlyCounts bool
	}{
		{"pkgstore_http_requests_total", ours.HTTPRequests, theirs.HTTPRequests, false},
		{"pkgstore_http_request_duration_seconds", ours.HTTPSeconds, theirs.HTTPSeconds, true},
	} {
		got, want := collect(t, c.ours, c.name), collect(t, c.theirs, c.name)
		if c.onlyCounts {
			got, want = countLines(got), countLines(want)
		}
		if got != want {
			t.Errorf("%s:\nours:\n%s\npromhttp:\n%s", c.name, got, want)
		}
	}
	if n := testutil.ToFloat64(ours.HTTPRequests.WithLabelValues("unknown", "200")); n != 1 {
		t.Errorf("PROPFIND counted %v times as unknown, want 1", n)
	}
}

func collect(t *testing.T, c prometheus.Collector, name string) string {
	t.Helper()
	b, err := testutil.CollectAndFormat(c, expfmt.TypeTextPlain, name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func countLines(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "_count") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// BenchmarkInstrument is the per-request cost of the instrumentation
// against promhttp's, on a handler writing a small body.
//
//	go test ./internal/server/metrics -run '^$' -bench Instrument
func BenchmarkInstrument(b *testing.B) {
	body := []byte(`{"ok":true}`)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	m := New()
	for _, c := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", h},
		{"ours", m.Instrument(h)},
		{"promhttp", promhttp.InstrumentHandlerCounter(m.HTTPRequests, promhttp.InstrumentHandlerTimeToWriteHeader(m.HTTPSeconds, h))},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/", nil)
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				c.h.ServeHTTP(w, req)
			}
		})
	}
}

type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}
