package logging

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// bufferSize is what a Buffered writer holds before it writes through.
const bufferSize = 64 << 10

// FlushInterval bounds how long a line waits in a Buffered writer.
const FlushInterval = 100 * time.Millisecond

// Buffered gathers log lines and writes them to the underlying writer in
// large pieces: at most FlushInterval after the first line waiting, when
// 64 KiB are waiting, at once for a record at warn level or above (through
// the handler NewBuffered returns with it), and on Close. An access line
// per request was a write(2) per request, the largest part of the
// per-request work at tens of thousands of requests a second
// (docs/benchmarks.md, "The wire limit with wrk").
//
// The writes themselves are made by a goroutine of its own, from one of two
// buffers while lines gather in the other: the request that fills a buffer
// hands it over and goes on, instead of making a 64 KiB write(2) while
// every other request's line waits behind the lock (and the runtime hands
// its P to another thread meanwhile). Only when both buffers are full, the
// destination being slower than the lines, do writers wait: the memory
// stays bounded at two buffers.
type Buffered struct {
	mu     sync.Mutex
	w      io.Writer
	buf    []byte      // lines gathering
	free   chan []byte // the other buffer, when not waiting to be written
	queue  chan chunk  // to the writer goroutine, in order
	closed bool        // queue closed: writes go straight to w

	errMu sync.Mutex
	err   error // the first write error, reported by Flush and Close

	kick      chan struct{}
	stop      chan struct{}
	done      chan struct{} // the flusher ended
	wdone     chan struct{} // the writer goroutine ended
	closeOnce sync.Once
}

// chunk is a piece for the writer goroutine: a buffer to write and give
// back, or (own false) bytes a caller waits on, or a bare marker a Flush
// waits on.
type chunk struct {
	b    []byte
	own  bool       // b is one of the two buffers: back to free once written
	done chan error // if set, told once b (and everything before it) is out
}

// NewBufferedWriter returns a Buffered writer over w and starts its
// flusher and writer goroutines, which Close stops.
func NewBufferedWriter(w io.Writer) *Buffered {
	b := &Buffered{w: w, buf: make([]byte, 0, bufferSize), free: make(chan []byte, 1), queue: make(chan chunk, 1),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), wdone: make(chan struct{})}
	b.free <- make([]byte, 0, bufferSize)
	go b.run()
	go b.writer()
	return b
}

// Write keeps p (a whole log line: slog's handlers write one record per
// call) for the next flush; a full buffer goes to the writer goroutine.
func (b *Buffered) Write(p []byte) (int, error) {
	b.mu.Lock()
	if b.closed {
		defer b.mu.Unlock()
		b.writeOut(p)
		return len(p), nil
	}
	if len(b.buf)+len(p) > cap(b.buf) {
		b.handOverLocked()
		if len(p) >= cap(b.buf) {
			// Too large to keep: written as it is, after what waited,
			// before Write returns (p is the caller's).
			done := make(chan error, 1)
			b.queue <- chunk{b: p, done: done}
			b.mu.Unlock()
			<-done
			return len(p), nil
		}
	}
	wasEmpty := len(b.buf) == 0
	b.buf = append(b.buf, p...)
	b.mu.Unlock()
	if wasEmpty {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// handOverLocked queues the gathering buffer, if it holds anything, and
// gathers in the other one, waiting for it while it is being written.
// The writer goroutine never takes mu, so waiting under it cannot deadlock.
func (b *Buffered) handOverLocked() {
	if len(b.buf) == 0 {
		return
	}
	b.queue <- chunk{b: b.buf, own: true}
	b.buf = <-b.free
}

// Flush writes what is waiting and returns the first write error so far,
// once everything written before it is out.
func (b *Buffered) Flush() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return b.firstErr()
	}
	b.handOverLocked()
	done := make(chan error, 1)
	b.queue <- chunk{done: done}
	b.mu.Unlock()
	<-done
	return b.firstErr()
}

func (b *Buffered) firstErr() error {
	b.errMu.Lock()
	defer b.errMu.Unlock()
	return b.err
}

// writeOut writes p to w, keeping the first error.
func (b *Buffered) writeOut(p []byte) {
	if len(p) == 0 {
		return
	}
	if _, err := b.w.Write(p); err != nil {
		b.errMu.Lock()
		if b.err == nil {
			b.err = err
		}
		b.errMu.Unlock()
	}
}

// writer writes the queued chunks in order until the queue is closed.
func (b *Buffered) writer() {
	defer close(b.wdone)
	for c := range b.queue {
		b.writeOut(c.b)
		if c.own {
			b.free <- c.b[:0]
		}
		if c.done != nil {
			c.done <- nil
		}
	}
}

// Close flushes and stops the flusher and the writer; later writes go
// through at once.
func (b *Buffered) Close() error {
	b.closeOnce.Do(func() {
		close(b.stop)
		<-b.done
		b.Flush()
		b.mu.Lock()
		b.closed = true
		close(b.queue)
		b.mu.Unlock()
		<-b.wdone
	})
	return b.firstErr()
}

// run hands the gathering buffer over FlushInterval after its first line.
func (b *Buffered) run() {
	defer close(b.done)
	for {
		select {
		case <-b.stop:
			return
		case <-b.kick:
		}
		// The first line of a batch waits FlushInterval for company.
		t := time.NewTimer(FlushInterval)
		select {
		case <-b.stop:
			t.Stop()
			return
		case <-t.C:
		}
		b.mu.Lock()
		if !b.closed {
			b.handOverLocked()
		}
		b.mu.Unlock()
	}
}

// flushing writes every record at warn level or above through at once:
// the lines that matter most are not the ones to lose to a crash.
type flushing struct {
	slog.Handler
	b *Buffered
	// text: the handler is slog's TextHandler with no options but the
	// level; root: no attributes or groups were added to it. Middleware
	// then writes access lines to b itself.
	text, root bool
	// level is the handler's fixed level (NewBuffered parsed it), so that
	// Middleware asks once, not through three interfaces per request.
	level      slog.Level
	levelKnown bool
}

func (h flushing) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := h.b.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h flushing) WithAttrs(as []slog.Attr) slog.Handler {
	return flushing{Handler: h.Handler.WithAttrs(as), b: h.b, level: h.level, levelKnown: h.levelKnown}
}

func (h flushing) WithGroup(name string) slog.Handler {
	return flushing{Handler: h.Handler.WithGroup(name), b: h.b, level: h.level, levelKnown: h.levelKnown}
}

// NewBuffered is New writing through a Buffered writer over w, which the
// caller closes (flushing what waits) when the program ends.
func NewBuffered(w io.Writer, format, level, service, version string) (*slog.Logger, *Buffered, error) {
	b := NewBufferedWriter(w)
	l, err := New(b, format, level, service, version)
	if err != nil {
		b.Close()
		return nil, nil, err
	}
	_, text := l.Handler().(*slog.TextHandler)
	lv, _ := ParseLevel(level) // New parsed it
	return slog.New(flushing{Handler: l.Handler(), b: b, text: text, root: true, level: lv, levelKnown: true}), b, nil
}
