package metrics

import "github.com/prometheus/client_golang/prometheus"

func newIndexRefused() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "pkgstore", Name: "index_refused_total",
		Help: "New index cursors a registry checking signed index statements (--index-keyring) refused, by kind (missing, signature, rollback, mismatch, malformed, other)."}, []string{"kind"})
}

// ObserveIndexRefused counts a cursor refused by the index statement check.
func (m *Metrics) ObserveIndexRefused(kind string) { m.IndexRefused.WithLabelValues(kind).Inc() }
