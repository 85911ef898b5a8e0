package registry

import "time"

// StatusDegraded is the /health?verbose=true status of a store whose
// proxy-mode upstream fails while its own index serves: /health still
// answers 200 (a load balancer must not drop the one instance that
// answers from local data), the verbose body says why.
const StatusDegraded = "degraded"

// UpstreamHealth is proxy mode's upstream in /health?verbose=true.
type UpstreamHealth struct {
	URL string `json:"url"`
	// State is the circuit's: "closed" (requests go upstream), "open"
	// (they answer from local data until RetryInSeconds) or "half-open"
	// (one request probes the upstream).
	State string `json:"state"`
	// ConsecutiveFailures since the upstream last answered.
	ConsecutiveFailures int        `json:"consecutive_failures"`
	LastError           string     `json:"last_error,omitempty"`
	LastFailure         *time.Time `json:"last_failure,omitempty"`
	// RetryInSeconds is the time until an open circuit lets a probe through.
	RetryInSeconds *float64 `json:"retry_in_seconds,omitempty"`
	// StaleAnswers and StaleBytes are the last good upstream answers a
	// pull-through cache keeps for stale-if-error.
	StaleAnswers int   `json:"stale_answers,omitempty"`
	StaleBytes   int64 `json:"stale_bytes,omitempty"`
}

// ReportUpstream adds proxy mode's upstream to /health?verbose=true.
func (r *Registry) ReportUpstream(f func() UpstreamHealth) { r.upstream.Store(&f) }

func (r *Registry) upstreamHealth() *UpstreamHealth {
	f := r.upstream.Load()
	if f == nil {
		return nil
	}
	h := (*f)()
	return &h
}
