package ui

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pkgstore/internal/pkg/markdown"
)

// TestFlightShares: callers asking for the same key while its render runs
// share that one render; another key renders on its own.
func TestFlightShares(t *testing.T) {
	var g flightGroup
	var calls atomic.Int32
	release := make(chan struct{})
	fn := func(ctx context.Context) (*markdown.Record, error) {
		calls.Add(1)
		<-release
		return &markdown.Record{Format: markdown.RecordFormat}, nil
	}
	var wg sync.WaitGroup
	recs := make([]*markdown.Record, 5)
	for i := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs[i], _ = g.do(context.Background(), "a", fn)
		}()
	}
	// Every caller waits on the flight before it ends.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		g.mu.Lock()
		n := 0
		if f := g.m["a"]; f != nil {
			n = f.waiters
		}
		g.mu.Unlock()
		if n == len(recs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d callers waiting, want %d", n, len(recs))
		}
	}
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("%d renders for 5 concurrent callers, want 1", n)
	}
	for i, r := range recs {
		if r != recs[0] || r == nil {
			t.Errorf("caller %d got another record", i)
		}
	}
	if _, err := g.do(context.Background(), "b", fn); err != nil || calls.Load() != 2 {
		t.Errorf("another key: %v, %d renders", err, calls.Load())
	}
}

// TestFlightCancelledWhenAllLeave: the render goes on while one caller
// still waits, and is cancelled when the last one leaves; a caller that
// comes after starts a render of its own.
func TestFlightCancelledWhenAllLeave(t *testing.T) {
	var g flightGroup
	started := make(chan struct{}, 2)
	stopped := make(chan error, 2)
	fn := func(ctx context.Context) (*markdown.Record, error) {
		started <- struct{}{}
		<-ctx.Done()
		stopped <- ctx.Err()
		return nil, ctx.Err()
	}
	ctx1, cancel1 := context.WithCancel(context.Background())
	ctx2, cancel2 := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	go func() { _, err := g.do(ctx1, "k", fn); errs <- err }()
	<-started
	go func() { _, err := g.do(ctx2, "k", fn); errs <- err }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		g.mu.Lock()
		n := g.m["k"].waiters
		g.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second caller never joined")
		}
	}
	cancel1()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Errorf("the caller that left: %v", err)
	}
	select {
	case <-stopped:
		t.Fatal("the render stopped while a caller still waited")
	case <-time.After(100 * time.Millisecond):
	}
	cancel2()
	<-errs
	select {
	case err := <-stopped:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("render stopped with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the render went on after every caller left")
	}
	// A new caller is not handed the cancelled flight.
	done := make(chan struct{})
	rec, err := g.do(context.Background(), "k", func(context.Context) (*markdown.Record, error) {
		close(done)
		return &markdown.Record{}, nil
	})
	if err != nil || rec == nil {
		t.Errorf("a later caller: %v", err)
	}
	<-done
}
