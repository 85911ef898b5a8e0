package registry

import "sync"

// searchCacheSize bounds the number of distinct query strings whose
// /search or /categories body is kept per snapshot.
const searchCacheSize = 512

// maxCachedBytes bounds the total size of cached bodies per cache, so that
// a burst of distinct all=true queries over a large index cannot grow the
// heap without limit.
const maxCachedBytes = 64 << 20

// bodyCache keeps rendered response bodies of one snapshot keyed by the raw
// query string, so that a hot query costs a map lookup and a write. It lives
// and dies with its snapshot: a reload starts a fresh cache, which is the
// invalidation.
type bodyCache struct {
	mu    sync.RWMutex
	max   int
	bytes int
	m     map[string][]byte
}

func newBodyCache(max int) *bodyCache {
	return &bodyCache{max: max, m: make(map[string][]byte)}
}

func (c *bodyCache) get(key string) ([]byte, bool) {
	c.mu.RLock()
	b, ok := c.m[key]
	c.mu.RUnlock()
	return b, ok
}

// put stores body unless the cache is full; when full it starts over, which
// keeps the hot queries (they come back at once) without bookkeeping.
func (c *bodyCache) put(key string, body []byte) {
	if len(body) > maxCachedBytes/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max || c.bytes+len(body) > maxCachedBytes {
		c.m = make(map[string][]byte)
		c.bytes = 0
	}
	if _, ok := c.m[key]; !ok {
		c.bytes += len(body)
	}
	c.m[key] = body
}
