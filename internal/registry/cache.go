package registry

import (
	"sync"

	"pkgstore/internal/registry/httpenc"
)

// searchCacheSize bounds the number of distinct query strings whose
// /search or /categories body is kept per snapshot.
const searchCacheSize = 512

// docCacheSize bounds the number of package documents kept rendered per
// snapshot.
const docCacheSize = 8192

// maxCachedBytes bounds the total size of cached bodies per cache, so that
// a burst of distinct all=true queries over a large index cannot grow the
// heap without limit.
const maxCachedBytes = 64 << 20

// cost is what a body is charged in the cache: its identity bytes plus a
// half for the compressed variants it may grow (each is a fifth to a tenth
// of JSON).
func cost(b *httpenc.Body) int { return len(b.Bytes()) * 3 / 2 }

// bodyCache keeps rendered response bodies (and their compressed variants)
// of one snapshot keyed by the raw query string or the package, so that a
// hot answer costs a map lookup and a write. It lives
// and dies with its snapshot: a reload starts a fresh cache, which is the
// invalidation.
type bodyCache[K comparable] struct {
	mu    sync.RWMutex
	max   int
	bytes int
	m     map[K]*httpenc.Body
}

func newBodyCache[K comparable](max int) *bodyCache[K] {
	return &bodyCache[K]{max: max, m: make(map[K]*httpenc.Body)}
}

func (c *bodyCache[K]) get(key K) (*httpenc.Body, bool) {
	c.mu.RLock()
	b, ok := c.m[key]
	c.mu.RUnlock()
	return b, ok
}

// cacheable reports whether a body of n bytes may be kept; a larger one is
// served uncompressed from a fresh rendering each time, as it could not be
// kept long enough to pay for its compression.
func cacheable(n int) bool { return n*3/2 <= maxCachedBytes/4 }

// put stores body (which must be cacheable); when full the cache starts
// over, which keeps the hot queries (they come back at once) without
// bookkeeping.
func (c *bodyCache[K]) put(key K, body *httpenc.Body) {
	n := cost(body)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max || c.bytes+n > maxCachedBytes {
		c.m = make(map[K]*httpenc.Body)
		c.bytes = 0
	}
	if _, ok := c.m[key]; !ok {
		c.bytes += n
	}
	c.m[key] = body
}
