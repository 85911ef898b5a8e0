package registry

import (
	"hash/maphash"
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

// seenSize bounds the query strings a doorkeeper remembers per snapshot
// (8 bytes each); when full it starts over.
const seenSize = 8 * searchCacheSize

// doorkeeper admits a query string into a body cache on its second request
// within a snapshot. Every distinct query string is a new rendering, so a
// client appending a counter (/search?all=true&zz=N) would otherwise make
// each request compress a body at the expensive levels for a cache that
// drops it unread, and push the hot answers out of that cache. A query
// seen once is served from a body compressed at httpenc.Fast, for the one
// coding asked, and not kept.
type doorkeeper struct {
	mu   sync.Mutex
	seed maphash.Seed
	seen map[uint64]struct{}
}

func newDoorkeeper() *doorkeeper {
	return &doorkeeper{seed: maphash.MakeSeed(), seen: make(map[uint64]struct{})}
}

// again records key and reports whether it was asked for before. Keys are
// remembered by a 64-bit hash under a per-process seed: a collision costs
// one cached body, and nobody can aim for one.
func (d *doorkeeper) again(key string) bool {
	h := maphash.String(d.seed, key)
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.seen[h]; ok {
		return true
	}
	if len(d.seen) >= seenSize {
		clear(d.seen)
	}
	d.seen[h] = struct{}{}
	return false
}
