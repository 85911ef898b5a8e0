package registry

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"pkgstore/internal/govern/tokens"
)

// Health is the /health?verbose=true answer: whether an index is loaded,
// which, and how old it is.
type Health struct {
	// Status is "ok", "loading" (no index loaded yet), "unavailable"
	// (a bucket is unreachable), "expired" (the signed index statement
	// served is past its expiry, docs/trust.md) or "degraded" (proxy
	// mode's upstream fails: local data serves); /health answers 503
	// unless "ok" or "degraded".
	Status string `json:"status"`
	// Version is the running pkgstore build (module version and VCS
	// revision), when the server was given it.
	Version string `json:"version,omitempty"`
	// Reason says why the status is not "ok": the bucket's or the
	// index's error, as the last probe or load saw it.
	Reason string      `json:"reason,omitempty"`
	Index  IndexHealth `json:"index"`
	// Tokens is the publishing tokens' state (absent on a read-only
	// store). A tokens file that fails does not make the store unhealthy:
	// reads are served, publishing fails closed; it shows here.
	Tokens *tokens.Health `json:"tokens,omitempty"`
	// Upstream is proxy mode's upstream (upstreamhealth.go): an upstream
	// that fails makes the status "degraded", never the answer a 503.
	Upstream *UpstreamHealth `json:"upstream,omitempty"`
	// Trust is the signed index statement's state (with --index-keyring).
	Trust *TrustHealth `json:"trust,omitempty"`
}

// ReportTokens adds the tokens' state to /health?verbose=true (the server
// calls it once its tokens are loaded).
func (r *Registry) ReportTokens(f func() tokens.Health) { r.tokens.Store(&f) }

func (r *Registry) tokensHealth() *tokens.Health {
	f := r.tokens.Load()
	if f == nil {
		return nil
	}
	h := (*f)()
	return &h
}

// IndexHealth describes the loaded index.
type IndexHealth struct {
	Loaded    bool   `json:"loaded"`
	Cursor    string `json:"cursor,omitempty"`
	Revisions int    `json:"revisions"`
	// Source is where the last full load read the index from: "snapshot"
	// (the catalog snapshot) or "index (snapshot WHY)" (the JSON index).
	Source string `json:"source,omitempty"`
	// LoadedAt is when this process swapped the current index in.
	LoadedAt *time.Time `json:"loaded_at,omitempty"`
	// AgeSeconds is the time since the index was written (its cursor is
	// the writer's clock in nanoseconds); absent without a cursor.
	AgeSeconds *float64 `json:"age_seconds,omitempty"`
	// CheckedSecondsAgo is the time since cursor.json was last read
	// successfully: a large value means the bucket is unreachable and the
	// index served may be stale.
	CheckedSecondsAgo *float64 `json:"checked_seconds_ago,omitempty"`
}

// minCursorTime is 2001-09-09 in nanoseconds: smaller cursors are not
// timestamps.
const minCursorTime = 1e18

// HealthNow reports the registry's state.
func (r *Registry) HealthNow() Health {
	now := time.Now()
	down := r.unreachable()
	s := r.snap.Load()
	if s == nil {
		h := Health{Status: "loading", Version: r.cfg.Build, Reason: "index not loaded yet", Tokens: r.tokensHealth()}
		if e := r.loadErr.Load(); down == "" && e != nil {
			h.Reason += ": " + *e
		} else if down != "" {
			h.Reason += ": " + down
		}
		return h
	}
	h := Health{Status: "ok", Version: r.cfg.Build, Index: IndexHealth{Loaded: true, Cursor: s.cat.Cursor(), Revisions: s.cat.Len(), Source: s.store.Source()}, Tokens: r.tokensHealth()}
	if down != "" {
		h.Status, h.Reason = "unavailable", down
	}
	h.Trust = r.trustHealth()
	if why := r.trustProblem(); why != "" && down == "" {
		h.Status, h.Reason = "expired", why
	}
	h.Upstream = r.upstreamHealth()
	if h.Status == "ok" && h.Upstream != nil && h.Upstream.State != "closed" {
		h.Status, h.Reason = StatusDegraded, "upstream "+h.Upstream.State+": "+h.Upstream.LastError
	}
	at := s.loadedAt.UTC()
	h.Index.LoadedAt = &at
	// Cursors written by an indexer are nanosecond timestamps; others
	// (hand-made or synthetic indexes) have no age to report.
	if ns, err := strconv.ParseInt(s.cat.Cursor(), 10, 64); err == nil && ns > minCursorTime {
		age := now.Sub(time.Unix(0, ns)).Seconds()
		h.Index.AgeSeconds = &age
	}
	if c := r.checked.Load(); c > 0 {
		ago := now.Sub(time.Unix(0, c)).Seconds()
		h.Index.CheckedSecondsAgo = &ago
	}
	return h
}

// unreachable says why a bucket is unreachable ("" when both answered
// their last probe).
func (r *Registry) unreachable() string {
	var why []string
	for _, p := range []*atomic.Pointer[string]{&r.internalDown, &r.internalProbe, &r.publicDown} {
		if e := p.Load(); e != nil {
			why = append(why, *e)
		}
	}
	return strings.Join(why, "; ")
}

// Healthy reports whether /health answers 200: an index is loaded and both
// buckets answered their last probe.
func (r *Registry) Healthy() bool {
	return r.Ready() && r.unreachable() == "" && r.trustProblem() == ""
}

// serveHealth answers /health as EPR does when healthy (200 with no
// body), 503 before the first index load and while a bucket is
// unreachable, and with a JSON Health body, same status, when asked with
// ?verbose=true: probes keep their contract, operators get the details.
// It reads only what the watch loop recorded: no bucket request.
func (r *Registry) serveHealth(w http.ResponseWriter, req *http.Request) {
	code := http.StatusOK
	if !r.Healthy() {
		code = http.StatusServiceUnavailable
	}
	if v := req.URL.Query().Get("verbose"); v == "" || v == "false" || v == "0" {
		switch {
		case !r.Ready():
			http.Error(w, "index not loaded yet", code)
		case code != http.StatusOK && r.unreachable() == "":
			http.Error(w, "index statement expired (details: /health?verbose=true)", code)
		case code != http.StatusOK:
			http.Error(w, "bucket unreachable (details: /health?verbose=true)", code)
		}
		return
	}
	body, _ := json.MarshalIndent(r.HealthNow(), "", "  ")
	w.Header().Set("Content-Type", "application/json")
	w.Header()["Cache-Control"] = []string{"max-age=0", "private, no-store"}
	w.WriteHeader(code)
	w.Write(append(body, '\n'))
}
