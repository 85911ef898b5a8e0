package markdown

import (
	"context"
	"fmt"
	"runtime"
	"time"
)

// Budget bounds one render. Package text is untrusted and Markdown has
// shapes that parse in more than linear time; whatever the input, a render
// stops at its budget and the README is shown as plain text.
type Budget struct {
	// CPU is the processor time the render may use: the rendering
	// thread's own CPU time where the platform reports it (Linux), so a
	// busy machine does not cut a README that fits; wall time elsewhere.
	CPU time.Duration
	// Wall bounds the render in elapsed time as well, however starved of
	// CPU it is. Zero: 10 × CPU.
	Wall time.Duration
	// Output is the most HTML the parser may produce, in bytes.
	Output int
}

// DefaultBudget is the budget of the publishing job and of the catalog's
// renders of revisions published before renders were stored. A README of
// 1 MiB of ordinary Markdown renders in well under a tenth of it.
var DefaultBudget = Budget{CPU: time.Second, Output: 3 << 20}

// overBudget is the private sentinel the guarded parsers panic with when
// the budget is spent or the context is done; Render recovers it. goldmark
// has no cancellation of its own: unwinding is the only way to stop it
// truly (the work stops, not just the wait for it).
type overBudget struct {
	why     string
	starved bool // stopped by wall time, not by the render's own CPU time
}

// meter measures one render against its budget.
type meter struct {
	ctx      context.Context
	cpu      time.Duration // budget
	cpuStart time.Duration // thread CPU at the start; -1 when unknown
	start    time.Time
	wallEnd  time.Time
	next     time.Time // earliest instant the CPU budget can be spent
	n        uint32
}

// newMeter starts measuring on the calling goroutine, which it locks to
// its thread until done is called.
func newMeter(ctx context.Context, b Budget) (*meter, func()) {
	runtime.LockOSThread()
	m := &meter{ctx: ctx, cpu: b.CPU, start: time.Now(), cpuStart: -1}
	if c, ok := threadCPU(); ok {
		m.cpuStart = c
	}
	wall := b.Wall
	if wall <= 0 {
		wall = 10 * b.CPU
	}
	m.wallEnd = m.start.Add(wall)
	m.next = m.start.Add(b.CPU)
	return m, runtime.UnlockOSThread
}

// tick is called at every step of the parser and renderer. It panics with
// overBudget when the context is done or the budget spent. Its cost is a
// counter on most calls and a clock reading on every 16th: the thread's
// CPU time is read only once the wall time says it could be spent (CPU
// time never runs ahead of wall time on one thread).
func (m *meter) tick() {
	m.n++
	if m.n&15 != 0 {
		return
	}
	m.check()
}

// check is tick without the counter.
func (m *meter) check() {
	select {
	case <-m.ctx.Done():
		panic(overBudget{why: "the render was cancelled"})
	default:
	}
	now := time.Now()
	if now.After(m.wallEnd) {
		panic(overBudget{why: fmt.Sprintf("rendering it took more than %s", m.wallEnd.Sub(m.start).Round(time.Millisecond)), starved: true})
	}
	if now.Before(m.next) {
		return
	}
	used := now.Sub(m.start)
	if m.cpuStart >= 0 {
		if c, ok := threadCPU(); ok {
			used = c - m.cpuStart
		}
	}
	if used >= m.cpu {
		panic(overBudget{why: fmt.Sprintf("rendering it needs more than its budget of %s of CPU time", m.cpu)})
	}
	m.next = now.Add(m.cpu - used)
}
