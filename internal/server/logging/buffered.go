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
type Buffered struct {
	mu    sync.Mutex
	w     io.Writer
	buf   []byte
	err   error // the first write error, reported by Flush and Close
	kick  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	close sync.Once
}

// NewBufferedWriter returns a Buffered writer over w and starts its
// flusher, which Close stops.
func NewBufferedWriter(w io.Writer) *Buffered {
	b := &Buffered{w: w, buf: make([]byte, 0, bufferSize), kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go b.run()
	return b
}

// Write keeps p (a whole log line: slog's handlers write one record per
// call) for the next flush, or writes through when the buffer is full.
func (b *Buffered) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf)+len(p) > cap(b.buf) {
		b.flushLocked()
		if len(p) >= cap(b.buf) {
			if _, err := b.w.Write(p); err != nil && b.err == nil {
				b.err = err
			}
			return len(p), nil
		}
	}
	wasEmpty := len(b.buf) == 0
	b.buf = append(b.buf, p...)
	if wasEmpty {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// Flush writes what is waiting and returns the first write error so far.
func (b *Buffered) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	return b.err
}

func (b *Buffered) flushLocked() {
	if len(b.buf) == 0 {
		return
	}
	if _, err := b.w.Write(b.buf); err != nil && b.err == nil {
		b.err = err
	}
	b.buf = b.buf[:0]
}

// Close flushes and stops the flusher; later writes go through at once.
func (b *Buffered) Close() error {
	b.close.Do(func() {
		close(b.stop)
		<-b.done
	})
	return b.Flush()
}

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
		b.Flush()
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
