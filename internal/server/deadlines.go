package server

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Sweep bounds: the sweep runs every 1/sweepDivisor of the shortest
// timeout, between minSweep and maxSweep, and a deadline at least
// sweepDivisor sweeps away is kept for it rather than given to the
// runtime, so it is enforced at most one sweep (about 5 %) late.
const (
	sweepDivisor = 20
	minSweep     = time.Millisecond
	maxSweep     = 100 * time.Millisecond
)

// aLongTimeAgo is a deadline that has passed: it ends blocked reads and
// writes at once (net/http uses the same to abort a read).
var aLongTimeAgo = time.Unix(1, 0)

// deadlineListener gives serve's timeouts without a runtime timer per
// request phase. net/http sets a connection's read deadline for each phase
// of each request (idle, headers, the whole request) and a write deadline
// for each answer, and every one moves a runtime timer (locks, the timer
// heap, a clock reading): about a microsecond per request, 3-4 % of a
// small cached answer's cost under wrk (docs/benchmarks.md, "Stop 23:
// margin"). Its connections keep a far deadline (sweepDivisor sweeps away
// or more: all of serve's defaults) as a number, and a sweep every
// interval ends the reads or writes of those whose deadline passed, by
// setting a past deadline on the connection: the same error, at most one
// sweep later. Near deadlines, past ones (net/http's abort of a read) and
// clearing an armed one go to the connection as before. Every timeout
// keeps its effect (TestConnectionTimeouts, TestDeadlinesSweepEnforces,
// TestDeadlinesWriteTimeoutEndToEnd).
type deadlineListener struct {
	net.Listener
	interval time.Duration
	near     int64     // ns: deadlines at least this far are kept
	base     time.Time // deadlines are kept as ns since base (monotonic)
	now      atomic.Int64

	mu    sync.Mutex
	conns map[*lazyConn]struct{}
}

// newDeadlineListener wraps ln for the timeouts of lim (filled with
// defaults); run must sweep while its connections live.
func newDeadlineListener(ln net.Listener, lim HTTPLimits) *deadlineListener {
	shortest := min(lim.ReadHeaderTimeout, lim.ReadTimeout, lim.WriteTimeout, lim.IdleTimeout)
	iv := min(max(shortest/sweepDivisor, minSweep), maxSweep)
	return &deadlineListener{Listener: ln, interval: iv, near: int64(sweepDivisor * iv), base: time.Now(), conns: map[*lazyConn]struct{}{}}
}

// Accept wraps each connection so that its deadlines go through the sweep.
func (l *deadlineListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	lc := &lazyConn{Conn: c, l: l}
	l.mu.Lock()
	l.conns[lc] = struct{}{}
	l.mu.Unlock()
	return lc, nil
}

// run sweeps every interval until ctx is done (Serve stops it after the
// server's shutdown, so that connections still draining stay bounded).
func (l *deadlineListener) run(ctx context.Context) {
	t := time.NewTicker(l.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		l.sweep()
	}
}

func (l *deadlineListener) sweep() {
	now := int64(time.Since(l.base))
	l.now.Store(now)
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		c.expire(now)
	}
}

// lazyConn keeps far deadlines for the sweep (deadlineListener).
type lazyConn struct {
	net.Conn
	l  *deadlineListener
	mu sync.Mutex
	// rd and wd are kept deadlines (ns since l.base, 0: none); rArmed and
	// wArmed say the connection itself holds a deadline.
	rd, wd         int64
	rArmed, wArmed bool
}

// SetReadDeadline keeps a far t for the sweep, or sets it on the connection.
func (c *lazyConn) SetReadDeadline(t time.Time) error { return c.set(t, true, false) }

// SetWriteDeadline keeps a far t for the sweep, or sets it on the connection.
func (c *lazyConn) SetWriteDeadline(t time.Time) error { return c.set(t, false, true) }

// SetDeadline is both.
func (c *lazyConn) SetDeadline(t time.Time) error { return c.set(t, true, true) }

func (c *lazyConn) set(t time.Time, r, w bool) error {
	var at int64
	kept := false
	if !t.IsZero() {
		// The sweep's clock lags by up to an interval: a deadline kept is
		// at least near minus an interval away.
		at = int64(t.Sub(c.l.base))
		kept = at-c.l.now.Load() >= c.l.near
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if r {
		if err := setOne(&c.rd, &c.rArmed, t, at, kept, c.Conn.SetReadDeadline); err != nil {
			return err
		}
	}
	if w {
		return setOne(&c.wd, &c.wArmed, t, at, kept, c.Conn.SetWriteDeadline)
	}
	return nil
}

func setOne(d *int64, armed *bool, t time.Time, at int64, kept bool, set func(time.Time) error) error {
	if kept {
		*d = at
		if *armed { // an earlier deadline on the connection would fire first
			*armed = false
			return set(time.Time{})
		}
		return nil
	}
	*d = 0
	if t.IsZero() && !*armed {
		return nil // none kept, none on the connection: nothing to clear
	}
	*armed = !t.IsZero()
	return set(t)
}

// expire ends the reads and writes whose kept deadline passed.
func (c *lazyConn) expire(now int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rd != 0 && now >= c.rd {
		c.rd, c.rArmed = 0, true
		c.Conn.SetReadDeadline(aLongTimeAgo)
	}
	if c.wd != 0 && now >= c.wd {
		c.wd, c.wArmed = 0, true
		c.Conn.SetWriteDeadline(aLongTimeAgo)
	}
}

// Close forgets the connection and closes it.
func (c *lazyConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// ReadFrom keeps the connection's own (sendfile for zips, on a TCP
// connection): net/http looks for it on the connection it serves.
func (c *lazyConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// CloseWrite keeps net/http's half-close of a connection it gives up on.
func (c *lazyConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
