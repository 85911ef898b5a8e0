// Package ratelimit limits how often each caller may do something: one
// token bucket per opaque key (a publish token's identity, whatever the
// token scheme), refilled at a steady rate up to a burst.
package ratelimit

import (
	"math"
	"strconv"
	"sync"
	"time"
)

// maxKeys bounds the buckets kept; beyond it full (idle) buckets are
// dropped, which loses nothing: a full bucket is what a new key gets.
const maxKeys = 10000

// Limiter is safe for concurrent use. A nil *Limiter allows everything.
type Limiter struct {
	rate  float64 // tokens per second
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// New allows perMinute actions a minute per key, burst at once (at least
// one). perMinute <= 0 returns nil: no limit.
func New(perMinute float64, burst int) *Limiter {
	if perMinute <= 0 {
		return nil
	}
	return &Limiter{rate: perMinute / 60, burst: float64(max(burst, 1)), now: time.Now, buckets: map[string]*bucket{}}
}

// Allow takes one token from key's bucket. When it is empty it returns
// false and how long until a token is back (for Retry-After).
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxKeys {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.refill(now, l.rate, l.burst)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

func (b *bucket) refill(now time.Time, rate, burst float64) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = math.Min(burst, b.tokens+d.Seconds()*rate)
		b.at = now
	}
}

func (l *Limiter) prune(now time.Time) {
	for k, b := range l.buckets {
		b.refill(now, l.rate, l.burst)
		if b.tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// RetryAfter renders a wait as a Retry-After value: whole seconds, at least 1.
func RetryAfter(d time.Duration) string {
	s := int64(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}
