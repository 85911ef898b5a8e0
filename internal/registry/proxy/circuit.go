package proxy

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
)

// Defaults of the upstream's failure handling (flags --proxy-timeout,
// --proxy-max-fails, --proxy-fail-timeout, --proxy-stale-max-bytes).
const (
	// DefaultTimeout bounds one upstream request, retries included: Kibana
	// waits for the proxy without a timeout of its own.
	DefaultTimeout = 3 * time.Second
	// DefaultMaxFails consecutive failures open the circuit (Verdaccio's
	// max_fails is 2; one more tolerates a single lost connection).
	DefaultMaxFails = 3
	// DefaultFailTimeout is how long an open circuit answers without the
	// upstream before one request probes it again (Verdaccio's
	// fail_timeout, shorter: a Fleet site wants its upstream back soon).
	DefaultFailTimeout = 30 * time.Second
	// DefaultStaleMaxBytes bounds the last good upstream answers of
	// /search and /categories a pull-through cache keeps.
	DefaultStaleMaxBytes = 32 << 20
)

// ErrCircuitOpen is an upstream request not made: the upstream failed
// MaxFails times in a row and FailTimeout has not passed since.
var ErrCircuitOpen = errors.New("circuit open")

// Circuit states, as /health?verbose=true and the metric name them.
const (
	StateClosed   = "closed"
	StateOpen     = "open"
	StateHalfOpen = "half-open"
)

// circuit counts the upstream's consecutive failures; MaxFails of them
// open it for FailTimeout, during which no request goes upstream; then a
// single request (the probe) goes, and its outcome closes the circuit or
// opens it for another FailTimeout. Requests arriving while the probe is
// out answer as if open: a recovering upstream is not stampeded.
type circuit struct {
	maxFails    int // <= 0: never opens
	failTimeout time.Duration
	now         func() time.Time

	mu          sync.Mutex
	state       string
	fails       int // consecutive
	openUntil   time.Time
	lastErr     string
	lastTimeout bool
	lastFailure time.Time

	failures, opens, probes atomic.Uint64
}

func newCircuit(maxFails int, failTimeout time.Duration) *circuit {
	return &circuit{maxFails: maxFails, failTimeout: failTimeout, now: time.Now, state: StateClosed}
}

// ticket is one admitted upstream request; its end is reported once.
type ticket struct{ probe bool }

// admit returns a ticket when a request may go upstream, or an error
// wrapping ErrCircuitOpen (and whether the last failure was a timeout).
func (c *circuit) admit() (*ticket, error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state {
	case StateClosed:
		return &ticket{}, nil, false
	case StateOpen:
		if !c.now().Before(c.openUntil) {
			c.state = StateHalfOpen
			c.probes.Add(1)
			return &ticket{probe: true}, nil, false
		}
	}
	next := c.openUntil.Sub(c.now()).Round(time.Second)
	if next < 0 || c.state == StateHalfOpen {
		next = 0
	}
	return nil, fmt.Errorf("%w after %d failures (last: %s); next try in %s", ErrCircuitOpen, c.fails, c.lastErr, next), c.lastTimeout
}

// success closes the circuit: the upstream answered.
func (c *circuit) success(*ticket) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state, c.fails = StateClosed, 0
}

// failure counts a failed upstream request; the probe's failure, or the
// MaxFails-th in a row, opens the circuit.
func (c *circuit) failure(t *ticket, err error, timeout bool) {
	c.failures.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fails++
	c.lastErr, c.lastTimeout, c.lastFailure = err.Error(), timeout, c.now()
	if t.probe || c.state == StateClosed && c.maxFails > 0 && c.fails >= c.maxFails {
		c.state, c.openUntil = StateOpen, c.now().Add(c.failTimeout)
		c.opens.Add(1)
	}
}

// abandon ends a request whose client left before the upstream
// answered: it says nothing of the upstream. An abandoned probe lets the
// next request probe at once.
func (c *circuit) abandon(t *ticket) {
	if !t.probe {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == StateHalfOpen {
		c.state, c.openUntil = StateOpen, c.now()
	}
}

// snapshot is the circuit's state for /health and metrics.
func (c *circuit) snapshot() (state string, fails int, lastErr string, lastFailure, openUntil time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state, c.fails, c.lastErr, c.lastFailure, c.openUntil
}

// warning renders an RFC 7234 Warning header value: code, agent
// "pkgstore", and text quoted (quotes and control characters replaced,
// at most 200 characters: it repeats an error, which may quote anything).
func warning(code int, text string) string {
	text = strings.Map(func(r rune) rune {
		switch {
		case r == '"' || r == '\\':
			return '\''
		case !unicode.IsPrint(r) || r > unicode.MaxASCII:
			return ' '
		}
		return r
	}, text)
	if len(text) > 200 {
		text = text[:197] + "..."
	}
	return fmt.Sprintf("%d pkgstore %q", code, text)
}
