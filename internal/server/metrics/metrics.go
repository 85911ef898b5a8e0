// Package metrics holds the Prometheus metrics of a running store.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics of one store; every metric is in the "pkgstore" namespace.
type Metrics struct {
	reg *prometheus.Registry

	Submissions     *prometheus.CounterVec // by final status
	PublishSeconds  prometheus.Histogram
	IndexPasses     *prometheus.CounterVec // by result: moved, unchanged, error
	IndexSeconds    prometheus.Histogram
	IndexedPackages prometheus.Gauge
	HTTPRequests    *prometheus.CounterVec // by method and code
	HTTPSeconds     *prometheus.HistogramVec
	IndexRefused    *prometheus.CounterVec // by kind (trust.go)
}

// New registers the metrics (and the Go and process collectors).
func New() *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{
		reg: reg,
		Submissions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "pkgstore", Name: "submissions_total",
			Help: "Submissions that reached a final status, by status (published, rejected, passed)."}, []string{"status"}),
		PublishSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "pkgstore", Name: "publish_duration_seconds",
			Help: "Time a worker spent on one submission, checks and writes.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		IndexPasses: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "pkgstore", Name: "index_passes_total",
			Help: "Indexing passes, by result (moved, unchanged, error)."}, []string{"result"}),
		IndexSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "pkgstore", Name: "index_duration_seconds",
			Help: "Duration of indexing passes.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		IndexedPackages: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "pkgstore", Name: "indexed_packages",
			Help: "Package revisions in the index after the last pass."}),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "pkgstore", Name: "http_requests_total",
			Help: "HTTP requests served, by method and status code."}, []string{"method", "code"}),
		HTTPSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "pkgstore", Name: "http_request_duration_seconds",
			Help: "HTTP request latency until the response headers, by method.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}, []string{"method"}),
	}
	m.IndexRefused = newIndexRefused()
	for _, c := range []prometheus.Collector{m.IndexRefused, m.Submissions, m.PublishSeconds, m.IndexPasses, m.IndexSeconds, m.IndexedPackages, m.HTTPRequests, m.HTTPSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Instrument counts and times the requests h serves, under the labels
// promhttp's InstrumentHandlerCounter and InstrumentHandlerTimeToWriteHeader
// give them (method "get", code "200"). It does what they do without their
// per-request label maps and delegator: the counter of each (method, code)
// is resolved once, which keeps a cached answer's cost near a bare write.
func (m *Metrics) Instrument(h http.Handler) http.Handler {
	return &instrumented{next: h, m: m}
}

// ObserveSubmission records a finished submission.
func (m *Metrics) ObserveSubmission(status string, took time.Duration) {
	m.Submissions.WithLabelValues(status).Inc()
	m.PublishSeconds.Observe(took.Seconds())
}

// ObserveIndexPass records an indexing pass.
func (m *Metrics) ObserveIndexPass(moved bool, packages int, took time.Duration, err error) {
	switch {
	case err != nil:
		m.IndexPasses.WithLabelValues("error").Inc()
		return
	case moved:
		m.IndexPasses.WithLabelValues("moved").Inc()
	default:
		m.IndexPasses.WithLabelValues("unchanged").Inc()
	}
	m.IndexSeconds.Observe(took.Seconds())
	m.IndexedPackages.Set(float64(packages))
}
