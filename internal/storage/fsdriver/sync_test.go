package fsdriver

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSyncGroupCommit: callers that arrive while a sync runs share the
// next one, and none returns before a sync that started after its call.
func TestSyncGroupCommit(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	entered := make(chan struct{}, 16)
	defer func(f func(string) error) { doSyncFS = f }(doSyncFS)
	doSyncFS = func(string) error {
		calls.Add(1)
		entered <- struct{}{}
		<-release
		return nil
	}
	g := &syncGroup{cond: make(chan struct{})}
	dir := t.TempDir()
	ctx := context.Background()

	first := make(chan error, 1)
	go func() { first <- g.wait(ctx, dir) }()
	<-entered // sync 1 runs
	const n = 8
	var wg sync.WaitGroup
	var returned atomic.Int32
	for range n {
		wg.Go(func() {
			if err := g.wait(ctx, dir); err != nil {
				t.Error(err)
			}
			returned.Add(1)
		})
	}
	time.Sleep(50 * time.Millisecond) // let them queue behind sync 1
	release <- struct{}{}             // sync 1 ends
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if returned.Load() != 0 {
		t.Fatal("a caller that arrived during sync 1 returned with sync 1")
	}
	<-entered // sync 2, shared by the 8
	release <- struct{}{}
	wg.Wait()
	if got := calls.Load(); got != 2 {
		t.Fatalf("%d syncs for 9 callers in two waves, want 2", got)
	}
}

func TestSyncErrorAndContext(t *testing.T) {
	defer func(f func(string) error) { doSyncFS = f }(doSyncFS)
	boom := errors.New("disk on fire")
	doSyncFS = func(string) error { return boom }
	g := &syncGroup{cond: make(chan struct{})}
	dir := t.TempDir()
	if err := g.wait(context.Background(), dir); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the sync's", err)
	}
	block := make(chan struct{})
	doSyncFS = func(string) error { <-block; return nil }
	bg := make(chan error, 1)
	go func() { bg <- g.wait(context.Background(), dir) }()
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := g.wait(ctx, dir); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's", err)
	}
	close(block)
	if err := <-bg; err != nil {
		t.Fatal(err)
	}
}
