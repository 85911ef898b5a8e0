package fsdriver

import (
	"context"
	"fmt"
	"sync"

	"pkgstore/internal/storage/driver"
)

// Durability.
//
// An object is written to a temporary file and renamed over its key
// (write.go), without fsync: on return the object is visible to every reader and
// survives the death of the process (the page cache holds it), but not a
// power failure or a kernel crash. Rather than fsync every object (a
// publication writes dozens: static files, signature, document, records,
// each fsync a journal commit that costs from milliseconds to a second on
// a busy disk), writers that need durability call Sync at their commit
// points: one syncfs(2) of the bucket's file system makes every object
// written before it durable, names and folders included.
//
// Sync is a group commit: callers that arrive while a sync runs share the
// next one, so N concurrent publications pay for about two syncs, not N.

// Sync implements driver.Bucket: it returns once everything written to
// the bucket before the call is durable, with a syncfs(2) of its file
// system that started after the call.
func (b *Bucket) Sync(ctx context.Context) error {
	g, err := groupFor(b.dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", b.dir, err)
	}
	if err := g.wait(ctx, b.dir); err != nil {
		return fmt.Errorf("sync %s: %w", b.dir, err)
	}
	return nil
}

// SharesSync implements driver.SyncSharer: two folders of one file system
// share their syncs.
func (b *Bucket) SharesSync(other driver.Bucket) bool {
	o, ok := other.(*Bucket)
	if !ok {
		return false
	}
	same, err := sameDevice(b.dir, o.dir)
	return err == nil && same
}

// syncGroup batches the syncs of one file system.
type syncGroup struct {
	mu      sync.Mutex
	running bool
	// started counts syncs started, done those finished; a caller needs
	// a sync that started after it arrived.
	started, done uint64
	err           error         // of the last finished sync
	cond          chan struct{} // closed when a sync finishes
}

var (
	groupsMu sync.Mutex
	groups   = map[uint64]*syncGroup{}
)

func groupFor(dir string) (*syncGroup, error) {
	dev, err := deviceOf(dir)
	if err != nil {
		return nil, err
	}
	groupsMu.Lock()
	defer groupsMu.Unlock()
	g := groups[dev]
	if g == nil {
		g = &syncGroup{cond: make(chan struct{})}
		groups[dev] = g
	}
	return g, nil
}

// wait returns after a sync that started after the call has finished; dir
// is the caller's folder of the file system (the leader syncs through its
// own, which exists as long as the caller's bucket does).
func (g *syncGroup) wait(ctx context.Context, dir string) error {
	g.mu.Lock()
	// A sync running now may have started before our writes: we need the
	// one after it.
	need := g.started + 1
	for {
		if g.done >= need {
			err := g.err
			g.mu.Unlock()
			return err
		}
		if !g.running {
			// Lead the next sync; everyone waiting shares it.
			g.running = true
			g.started++
			g.mu.Unlock()
			err := doSyncFS(dir)
			g.mu.Lock()
			g.running = false
			g.done = g.started
			g.err = err
			close(g.cond)
			g.cond = make(chan struct{})
			continue
		}
		ch := g.cond
		g.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
		g.mu.Lock()
	}
}

// doSyncFS is syncFS; tests replace it to watch the group commit.
var doSyncFS = syncFS
