package ui

import "golang.org/x/net/html/atom"

// Forget drops the cached pages and parts, so that a benchmark can
// measure rendering from scratch.
func (h *Handler) Forget() {
	h.cache.mu.Lock()
	defer h.cache.mu.Unlock()
	h.cache.cat, h.cache.pages, h.cache.bytes = nil, nil, 0
	h.parts.mu.Lock()
	defer h.parts.mu.Unlock()
	h.parts.m, h.parts.bytes = nil, 0
}

// ForgetPages drops the cached pages but keeps the per-revision parts, as
// a new index snapshot does.
func (h *Handler) ForgetPages() {
	h.cache.mu.Lock()
	defer h.cache.mu.Unlock()
	h.cache.cat, h.cache.pages, h.cache.bytes = nil, nil, 0
}

func atomOf(name []byte) atom.Atom { return atom.Lookup(name) }
