package publish

import (
	"context"
	"time"
)

// foreignCheck is how often Run looks at the submissions it found in
// another process's hands.
const foreignCheck = time.Second

// maxForeign bounds the submissions Run watches for other processes.
const maxForeign = 4096

// watchForeign remembers id, a submission another live process (a
// publishing job, another serve) is working on, so that Run sees how it
// ends: a serve indexes what jobs publish beside it, and takes a
// submission over as soon as its holder's lease lapses. Only Run watches
// (Drain reports its own submissions), and only so many at once.
func (p *Publisher) watchForeign(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.foreign == nil || len(p.foreign) >= maxForeign {
		return
	}
	p.foreign[id] = true
}

// checkForeign reads the status of each watched submission: a published
// one is indexed (OnPublished), a final one is forgotten, one whose holder
// is gone is scheduled again (process takes it over, or waits again).
func (p *Publisher) checkForeign(ctx context.Context) {
	p.mu.Lock()
	ids := make([]string, 0, len(p.foreign))
	for id := range p.foreign {
		ids = append(ids, id)
	}
	p.mu.Unlock()
	for _, id := range ids {
		if ctx.Err() != nil {
			return
		}
		s, err := p.Status(ctx, id)
		if err != nil {
			continue // read again at the next check
		}
		if s.Status.Final() {
			p.unwatchForeign(id)
			p.finishRecovered(ctx, s)
			continue
		}
		if held, err := p.leased(ctx, id); err == nil && !held {
			p.unwatchForeign(id)
			p.schedule(id)
		}
	}
}

func (p *Publisher) unwatchForeign(id string) {
	p.mu.Lock()
	delete(p.foreign, id)
	p.mu.Unlock()
}

// leased reports whether another live process holds sub's lease.
func (p *Publisher) leased(ctx context.Context, sub string) (bool, error) {
	_, rec, err := p.topLease(ctx, sub)
	if err != nil {
		return false, err
	}
	return rec != nil && rec.Instance != p.inst.id && p.live(rec), nil
}
