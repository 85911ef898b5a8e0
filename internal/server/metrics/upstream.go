package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"pkgstore/internal/registry/proxy"
)

// circuitStates are the values of pkgstore_proxy_upstream_circuit_state.
var circuitStates = map[string]float64{proxy.StateClosed: 0, proxy.StateOpen: 1, proxy.StateHalfOpen: 2}

// WatchUpstream exports proxy mode's upstream, read at each scrape:
// the circuit's state (0 closed, 1 open, 2 half-open), the upstream's
// failures, the circuit's openings and probes, and the answers made
// without the upstream by kind (local, stale, failed).
func (m *Metrics) WatchUpstream(stats func() proxy.Stats) {
	m.reg.MustRegister(&upstreamCollector{stats: stats})
}

var (
	descState = prometheus.NewDesc("pkgstore_proxy_upstream_circuit_state",
		"Proxy mode's circuit: 0 closed (requests go upstream), 1 open (answered from local data), 2 half-open (one probe out).", nil, nil)
	descFailures = prometheus.NewDesc("pkgstore_proxy_upstream_failures_total",
		"Upstream requests that failed (error, 5xx, timeout), retries of one request counted once.", nil, nil)
	descOpens = prometheus.NewDesc("pkgstore_proxy_circuit_opens_total",
		"Times the circuit opened (max fails reached, or a probe failed).", nil, nil)
	descProbes = prometheus.NewDesc("pkgstore_proxy_circuit_probes_total",
		"Requests a half-open circuit let through to probe the upstream.", nil, nil)
	descDegraded = prometheus.NewDesc("pkgstore_proxy_degraded_answers_total",
		"Answers made without the upstream, by kind: local (local data alone), stale (merged with the upstream's last good answer), failed (502/504).", []string{"kind"}, nil)
)

type upstreamCollector struct{ stats func() proxy.Stats }

func (c *upstreamCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descState, descFailures, descOpens, descProbes, descDegraded} {
		ch <- d
	}
}

func (c *upstreamCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, circuitStates[s.State])
	ch <- prometheus.MustNewConstMetric(descFailures, prometheus.CounterValue, float64(s.Failures))
	ch <- prometheus.MustNewConstMetric(descOpens, prometheus.CounterValue, float64(s.Opens))
	ch <- prometheus.MustNewConstMetric(descProbes, prometheus.CounterValue, float64(s.Probes))
	ch <- prometheus.MustNewConstMetric(descDegraded, prometheus.CounterValue, float64(s.LocalAnswers), "local")
	ch <- prometheus.MustNewConstMetric(descDegraded, prometheus.CounterValue, float64(s.StaleAnswers), "stale")
	ch <- prometheus.MustNewConstMetric(descDegraded, prometheus.CounterValue, float64(s.FailedAnswers), "failed")
}
