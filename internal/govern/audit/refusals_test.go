package audit

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"pkgstore/internal/storage"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newRefusalsTest(t *testing.T) (*Refusals, *Log, *fakeClock) {
	t.Helper()
	b, err := storage.OpenDir(filepath.Join(t.TempDir(), "internal"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	clock := &fakeClock{t: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)}
	l := New(b)
	l.now = clock.now
	r := NewRefusals(l, RefusalLimits{Burst: 3, PerMinute: 1, Window: time.Minute}, nil)
	r.now = clock.now
	r.tick = 10 * time.Millisecond
	return r, l, clock
}

func refusal(token, pkg, client string) Record {
	return Record{Event: TokenRefused, Token: token, Package: pkg, Client: client, Action: "publish", Reasons: []string{fmt.Sprintf("token %q may not publish package %q", token, pkg)}}
}

func records(t *testing.T, l *Log, ev Event) []Record {
	t.Helper()
	recs, err := l.All(context.Background(), Query{Event: ev})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestRefusalsBounded: a token bucket of records one by one, the rest in
// one summary per window, written by the first refusal after the window,
// by Run, or by Flush; counts add up.
func TestRefusalsBounded(t *testing.T) {
	ctx := context.Background()
	r, l, clock := newRefusalsTest(t)
	recorded := 0
	for i := range 100 {
		ok, err := r.Record(ctx, refusal("ci", "aws", "10.0.0.1"))
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			recorded++
		}
		if i == 50 {
			clock.add(time.Second)
		}
	}
	if recorded != 3 || len(records(t, l, TokenRefused)) != 3 || len(records(t, l, TokenRefusalsSuppressed)) != 0 {
		t.Fatalf("recorded %d one by one, want the burst of 3 and no summary yet", recorded)
	}
	// The window ends: the next refusal writes its summary (and, a token
	// back in the bucket, is recorded itself).
	clock.add(time.Minute)
	if ok, err := r.Record(ctx, refusal("ci", "aws", "10.0.0.1")); err != nil || !ok {
		t.Fatalf("first refusal after the window: recorded %v, %v", ok, err)
	}
	sums := records(t, l, TokenRefusalsSuppressed)
	if len(sums) != 1 {
		t.Fatalf("%d summaries, want 1", len(sums))
	}
	s := sums[0]
	want := `97× token "ci" may not publish package "aws"`
	if s.Suppressed != 97 || s.Token != "ci" || s.Package != "aws" || s.Client != "10.0.0.1" || s.Action != "publish" ||
		len(s.Reasons) != 1 || s.Reasons[0] != want || s.WindowStart != clock.now().Add(-time.Minute-time.Second) || s.WindowEnd != clock.now().Add(-time.Minute) {
		t.Fatalf("summary %+v, want 97 refusals %s from 09:00:00 to 09:00:01", s, want)
	}
	// Refusals counted again; Run writes the summary once the window ends
	// and flushes the open one when it stops.
	for range 5 {
		r.Record(ctx, refusal("ci", "aws", "10.0.0.1"))
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { r.Run(runCtx); close(done) }()
	clock.add(time.Minute)
	deadline := time.Now().Add(5 * time.Second)
	for len(records(t, l, TokenRefusalsSuppressed)) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("Run wrote no summary for an ended window")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for range 4 {
		r.Record(ctx, refusal("ci", "aws", "10.0.0.1"))
	}
	stop()
	<-done
	total, one := 0, len(records(t, l, TokenRefused))
	for _, s := range records(t, l, TokenRefusalsSuppressed) {
		total += s.Suppressed
	}
	if one+total != 110 {
		t.Fatalf("%d recorded + %d counted, want 110", one, total)
	}
}

// TestRefusalsSummaryBounded: varied packages and clients keep a summary
// and the state small; idle tokens are forgotten; tokens are independent.
func TestRefusalsSummaryBounded(t *testing.T) {
	ctx := context.Background()
	r, l, clock := newRefusalsTest(t)
	for i := range 1000 {
		r.Record(ctx, refusal("ci", fmt.Sprintf("p%d", i), fmt.Sprintf("10.0.%d.%d", i/256, i%256)))
	}
	for range 10 {
		r.Record(ctx, refusal("other", "aws", "10.0.0.1"))
	}
	if len(records(t, l, TokenRefused)) != 6 {
		t.Fatalf("%d records one by one, want 3 per token", len(records(t, l, TokenRefused)))
	}
	st := r.tokens["ci"]
	if len(st.reasons) > maxSummaryReasons || len(st.clients) > maxSummaryClients {
		t.Fatalf("state keeps %d reasons and %d clients", len(st.reasons), len(st.clients))
	}
	r.Flush(ctx)
	sums := records(t, l, TokenRefusalsSuppressed)
	if len(sums) != 2 {
		t.Fatalf("%d summaries, want one per token", len(sums))
	}
	for _, s := range sums {
		if s.Token != "ci" {
			continue
		}
		last := s.Reasons[len(s.Reasons)-1]
		if s.Suppressed != 997 || s.Package != "" || s.Client != "" || len(s.Reasons) != maxSummaryReasons+2 ||
			s.Reasons[maxSummaryReasons] != "987× other reasons" || !strings.HasPrefix(last, "from 100+ client addresses: ") || !strings.HasSuffix(last, " and more") {
			t.Fatalf("summary %+v", s)
		}
	}
	// Nothing counted and the buckets full again: nothing kept.
	clock.add(time.Hour)
	r.Flush(ctx)
	if len(r.tokens) != 0 {
		t.Fatalf("%d tokens kept after an idle hour", len(r.tokens))
	}
}
