package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
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

func TestSyncRealBuckets(t *testing.T) {
	ctx := context.Background()
	b, err := OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.WriteAll(ctx, "a/b.json", []byte("{}"), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	mem, err := OpenURL(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	if err := (&Buckets{Public: b, Internal: mem}).Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestStage: a staged object is invisible until Commit, Commit is
// create-if-absent, Discard leaves nothing behind.
func TestStage(t *testing.T) {
	ctx := context.Background()
	dir, err := OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mem, err := OpenURL(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]*Bucket{"dir": dir, "mem": mem} {
		t.Run(name, func(t *testing.T) {
			key := "artifacts/packages/a-1.0.0.zip"
			s, err := b.Stage(ctx, key, bytes.NewReader([]byte("zip")), nil)
			if err != nil {
				t.Fatal(err)
			}
			if ok, _ := b.Exists(ctx, key); ok {
				t.Fatal("staged object visible before Commit")
			}
			if err := s.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if got, _ := b.ReadAll(ctx, key); string(got) != "zip" {
				t.Fatalf("committed %q", got)
			}
			s2, err := b.Stage(ctx, key, bytes.NewReader([]byte("other")), nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := s2.Commit(ctx); !errors.Is(err, ErrExists) {
				t.Fatalf("second Commit = %v, want ErrExists", err)
			}
			s3, err := b.Stage(ctx, "artifacts/packages/b-1.0.0.zip", io.LimitReader(bytes.NewReader([]byte("b")), 1), nil)
			if err != nil {
				t.Fatal(err)
			}
			s3.Discard()
			if ok, _ := b.Exists(ctx, "artifacts/packages/b-1.0.0.zip"); ok {
				t.Fatal("discarded object visible")
			}
			if got, _ := b.ReadAll(ctx, key); string(got) != "zip" {
				t.Fatalf("object changed to %q", got)
			}
		})
	}
	objs, err := dir.ListAll(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.Key == tempDir+"/" {
			continue
		}
		if !o.IsDir && o.Key != "artifacts/packages/a-1.0.0.zip" {
			t.Errorf("left behind: %s", o.Key)
		}
	}
}
