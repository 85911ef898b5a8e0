package proxy

import (
	"container/list"
	"sync"
	"time"
)

// staleStore keeps the last good upstream answer of each /search and
// /categories query a pull-through cache made, least recently used first
// out beyond maxBytes: when the upstream errors, the proxy merges the
// local answer with these (stale-if-error) instead of with nothing.
type staleStore struct {
	maxBytes int64

	mu    sync.Mutex
	bytes int64
	byKey map[string]*list.Element // of *staleEntry
	lru   list.List                // front: most recently used
}

type staleEntry struct {
	key  string
	body []byte
	at   time.Time // when the upstream answered it
}

func newStaleStore(maxBytes int64) *staleStore {
	return &staleStore{maxBytes: maxBytes, byKey: map[string]*list.Element{}}
}

// cost counts the key too: many distinct queries with small answers must
// not grow the map unbounded.
func (e *staleEntry) cost() int64 { return int64(len(e.key) + len(e.body) + 64) }

// put keeps body as the last good answer to key (a body alone larger
// than the bound is not kept, and drops an older answer to key).
func (s *staleStore) put(key string, body []byte, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if el := s.byKey[key]; el != nil {
		s.bytes -= el.Value.(*staleEntry).cost()
		s.lru.Remove(el)
		delete(s.byKey, key)
	}
	e := &staleEntry{key: key, body: body, at: at}
	if e.cost() > s.maxBytes {
		return
	}
	s.byKey[key] = s.lru.PushFront(e)
	s.bytes += e.cost()
	for s.bytes > s.maxBytes {
		old := s.lru.Back()
		oe := old.Value.(*staleEntry)
		s.lru.Remove(old)
		delete(s.byKey, oe.key)
		s.bytes -= oe.cost()
	}
}

// get returns the last good answer to key and when it was had.
func (s *staleStore) get(key string) ([]byte, time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	el := s.byKey[key]
	if el == nil {
		return nil, time.Time{}, false
	}
	s.lru.MoveToFront(el)
	e := el.Value.(*staleEntry)
	return e.body, e.at, true
}

// size is the number of answers kept and their cost in bytes.
func (s *staleStore) size() (int, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byKey), s.bytes
}
