package publish

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/storage"
)

// AbandonedAfter is how long a queue entry may go untouched before it is
// taken for the leftover of an upload whose client or process died: an
// upload in progress writes its file all the time, and a queued
// submission has a record.
const AbandonedAfter = time.Hour

// cleanEvery is how often a running serve cleans the queue.
const cleanEvery = 10 * time.Minute

// maxCleanPerPass bounds the files one CleanQueue removes; the rest waits
// for the next pass.
const maxCleanPerPass = 1000

// CleanQueue removes what uploads that died mid-write left in the queue:
// on folders, the temporary file of a zip or signature being written
// (queue-publishing/<id>/NAME-VERSION.zip.<hex>.tmp), which listings hide,
// so that neither a queue scan nor the removal of the entry ever saw it,
// and the folder it leaves empty. Only files untouched for AbandonedAfter
// go, at most maxCleanPerPass a call; each is logged. It returns how many
// went. Serve runs it at start and every ten minutes (cleanEvery),
// `pkgstore job publish` at every drain.
func (p *Publisher) CleanQueue(ctx context.Context) int {
	removed, err := p.b.Internal.RemoveStaleTemp(ctx, storage.QueuePrefix, time.Now().Add(-AbandonedAfter), maxCleanPerPass)
	for _, path := range removed {
		p.log.Warn("removed the temporary file of an upload that never completed", "path", path, "untouched_for_more_than", AbandonedAfter.String())
	}
	if err != nil && ctx.Err() == nil {
		p.log.Error("clean the publishing queue", "err", err)
	}
	return len(removed)
}

// DrainOptions select what Drain works on.
type DrainOptions struct {
	// Only limits the drain to these submissions (the ids `pkgstore
	// publish --queue` prints), wherever they are: queued, being worked
	// on by another process, or already final. Empty: every submission
	// in the queue when Drain starts.
	Only []string
	// Poll is how often submissions that other processes hold are looked
	// at again, and taken over once their holder's lease has expired
	// (default 1s).
	Poll time.Duration
}

// Outcome is what became of one submission of a drain.
type Outcome struct {
	ID string
	// Submission is its latest record: final, unless Err is set.
	Submission *api.Submission
	// Err says why it has no final outcome: the drain's context ended
	// first (it stays queued for the next job), or its record could not
	// be read.
	Err error
}

// ErrNotFinal is matched by an Outcome's Err when the drain ended before
// the submission did.
var ErrNotFinal = errors.New("not final when the job stopped")

// Drain runs the publishing job once over the queue and returns each
// submission's outcome, in the order of the queue (submission ids sort by
// time). It is serve's job, not a copy: the same workers (Config.Workers
// of them), leases and claims, so any number of drains and serves may
// work the same buckets at once; a submission another process holds is
// waited for, and taken over if that process dies. Submissions queued
// after the drain started are left for the next one. When ctx ends, the
// submissions in progress get ShutdownGrace, then go back to the queue,
// and the unfinished ones come back with ErrNotFinal.
//
// err is for a queue that cannot be listed; a Publisher must not run
// Drain and Run at once.
func (p *Publisher) Drain(ctx context.Context, opts DrainOptions) ([]Outcome, error) {
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	p.CleanQueue(ctx)
	out, targets, err := p.drainTargets(ctx, opts.Only)
	if err != nil {
		return nil, err
	}

	// What this process's workers finished, looked at as soon as they do.
	var mu sync.Mutex
	finished := map[string]bool{}
	wake := make(chan struct{}, 1)
	after := func(id string) {
		mu.Lock()
		finished[id] = true
		mu.Unlock()
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	loopCtx, stopLoop := context.WithCancel(ctx)
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	wg := p.startWorkers(loopCtx, jobCtx, after)
	for _, id := range targets {
		p.schedule(id)
	}

	pending := map[string]int{} // id: its index in out
	for i, o := range out {
		if o.Err == nil && o.Submission == nil {
			pending[o.ID] = i
		}
	}
	tick := time.NewTicker(opts.Poll)
	defer tick.Stop()
	look := func(id string) {
		s, err := p.Status(ctx, id)
		switch {
		case err != nil && ctx.Err() != nil:
			return // told below
		case errors.Is(err, ErrUnknownSubmission):
			out[pending[id]].Err = err
		case err != nil:
			p.log.Warn("read submission", "submission", id, "err", err)
			return // a transient failure: look again at the next tick
		case !s.Status.Final():
			return
		default:
			out[pending[id]].Submission = s
		}
		delete(pending, id)
	}
	for len(pending) > 0 && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-wake:
			mu.Lock()
			ids := finished
			finished = map[string]bool{}
			mu.Unlock()
			for id := range ids {
				if _, ok := pending[id]; ok {
					look(id)
				}
			}
		case <-tick.C:
			// Those no worker here holds: another process works on them,
			// or a retry or a busy claim waits; see how they are, and
			// take them (again) where their lease allows it.
			for id := range pending {
				if p.inFlight(id) {
					continue
				}
				look(id)
				if _, still := pending[id]; still {
					p.schedule(id)
				}
			}
		}
	}
	stopLoop()
	if len(pending) == 0 {
		// Every target is final: the workers are idle, or about to see
		// that a submission they took is final.
		wg.Wait()
	} else {
		p.stopWorkers(wg, cancelJobs)
	}
	lastCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for id, i := range pending {
		s, err := p.Status(lastCtx, id)
		if err == nil && s.Status.Final() {
			out[i].Submission = s // finished while the workers stopped
			continue
		}
		status := "unknown"
		if err == nil {
			out[i].Submission, status = s, string(s.Status)
		}
		out[i].Err = fmt.Errorf("%w: %s", ErrNotFinal, status)
	}
	return out, nil
}

// drainTargets returns the outcomes a drain will fill, in order, and the
// submissions to schedule.
func (p *Publisher) drainTargets(ctx context.Context, only []string) ([]Outcome, []string, error) {
	var out []Outcome
	var ids []string
	if len(only) > 0 {
		seen := map[string]bool{}
		for _, id := range only {
			if seen[id] {
				continue
			}
			seen[id] = true
			if !validID(id) {
				out = append(out, Outcome{ID: id, Err: fmt.Errorf("%w: %q is not a submission id", ErrUnknownSubmission, id)})
				continue
			}
			out = append(out, Outcome{ID: id})
			ids = append(ids, id)
		}
	} else {
		_, dirs, err := p.b.Internal.ListLevel(ctx, storage.QueuePrefix)
		if err != nil {
			return nil, nil, fmt.Errorf("list the publishing queue: %w", err)
		}
		for _, d := range dirs {
			id := d[len(storage.QueuePrefix) : len(d)-1]
			if validID(id) {
				out = append(out, Outcome{ID: id})
				ids = append(ids, id)
			}
		}
	}
	// A queue entry without a record is an upload still running, or one
	// whose client died: it is no submission (yet). The job looks at it
	// (removing it once abandoned) but it has no outcome.
	var keep []Outcome
	for _, o := range out {
		if o.Err != nil {
			keep = append(keep, o)
			continue
		}
		if _, err := p.Status(ctx, o.ID); errors.Is(err, ErrUnknownSubmission) {
			if len(only) > 0 {
				o.Err = err
				keep = append(keep, o)
			} else {
				p.log.Info("queue entry without a submission record: an upload in progress, or abandoned", "submission", o.ID)
			}
			continue
		}
		keep = append(keep, o)
	}
	return keep, ids, nil
}

// inFlight reports whether a worker of this process holds id, or it waits
// for one.
func (p *Publisher) inFlight(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inflight[id]
}
