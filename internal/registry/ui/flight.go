package ui

import (
	"context"
	"sync"

	"pkgstore/internal/pkg/markdown"
)

// flightGroup shares one render among the page views that need it at the
// same time (singleflight, keyed by revision and README path). The render
// runs in a goroutine the group owns, under a context of its own that is
// cancelled when every view waiting for it has gone: a client that leaves
// stops the work unless another still waits for it.
type flightGroup struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	done    chan struct{}
	rec     *markdown.Record
	err     error
	waiters int
	cancel  context.CancelFunc
}

// do returns fn's record for key, running fn once for every caller that
// asks while it runs. A caller whose ctx ends gets ctx's error at once.
func (g *flightGroup) do(ctx context.Context, key string, fn func(context.Context) (*markdown.Record, error)) (*markdown.Record, error) {
	g.mu.Lock()
	if g.m == nil {
		g.m = map[string]*flight{}
	}
	f := g.m[key]
	if f == nil {
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &flight{done: make(chan struct{}), cancel: cancel}
		g.m[key] = f
		go func() {
			defer cancel()
			rec, err := fn(fctx)
			g.mu.Lock()
			if g.m[key] == f {
				delete(g.m, key)
			}
			f.rec, f.err = rec, err
			g.mu.Unlock()
			close(f.done)
		}()
	}
	f.waiters++
	g.mu.Unlock()
	select {
	case <-f.done:
		return f.rec, f.err
	case <-ctx.Done():
		g.mu.Lock()
		if f.waiters--; f.waiters == 0 {
			f.cancel()
			// A view that comes next starts a render of its own rather
			// than joining the cancelled one.
			if g.m[key] == f {
				delete(g.m, key)
			}
		}
		g.mu.Unlock()
		return nil, ctx.Err()
	}
}
