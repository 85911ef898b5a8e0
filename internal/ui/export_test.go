package ui

import "golang.org/x/net/html/atom"

// Forget drops the cached pages, so that a benchmark can measure rendering.
func (h *Handler) Forget() {
	h.cache.mu.Lock()
	defer h.cache.mu.Unlock()
	h.cache.cat, h.cache.pages, h.cache.bytes = nil, nil, 0
}

func atomOf(name []byte) atom.Atom { return atom.Lookup(name) }
