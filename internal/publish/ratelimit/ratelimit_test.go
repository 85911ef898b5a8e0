package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(60, 3) // one a second, three at once
	l.now = func() time.Time { return now }
	step := func(d time.Duration) { now = now.Add(d) }
	for _, tc := range []struct {
		advance time.Duration
		key     string
		ok      bool
		wait    time.Duration
	}{
		{0, "a", true, 0},
		{0, "a", true, 0},
		{0, "a", true, 0},
		{0, "a", false, time.Second}, // burst spent
		{0, "b", true, 0},            // keys are independent
		{500 * time.Millisecond, "a", false, 500 * time.Millisecond},
		{500 * time.Millisecond, "a", true, 0}, // refilled one
		{0, "a", false, time.Second},
		{time.Hour, "a", true, 0}, // refill caps at the burst
		{0, "a", true, 0},
		{0, "a", true, 0},
		{0, "a", false, time.Second},
	} {
		step(tc.advance)
		ok, wait := l.Allow(tc.key)
		if ok != tc.ok || (wait-tc.wait).Abs() > time.Millisecond {
			t.Errorf("+%v %s: %v %v, want %v %v", tc.advance, tc.key, ok, wait, tc.ok, tc.wait)
		}
	}
	var none *Limiter
	if ok, _ := none.Allow("x"); !ok || New(0, 5) != nil {
		t.Error("no limit must allow everything")
	}
	for d, want := range map[time.Duration]string{0: "1", 200 * time.Millisecond: "1", 1500 * time.Millisecond: "2", 90 * time.Second: "90"} {
		if got := RetryAfter(d); got != want {
			t.Errorf("RetryAfter(%v) = %s, want %s", d, got, want)
		}
	}
}

func TestLimiterBoundsKeys(t *testing.T) {
	now := time.Unix(0, 0)
	l := New(600, 1)
	l.now = func() time.Time { return now }
	for i := 0; i < 3*maxKeys; i++ {
		l.Allow(fmt.Sprint(i))
		now = now.Add(time.Second) // every earlier bucket refills
	}
	if n := len(l.buckets); n > maxKeys {
		t.Errorf("%d buckets kept, bound %d", n, maxKeys)
	}
}
