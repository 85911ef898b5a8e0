package ui

import "pkgstore/internal/testkit/htmltest"

// Forget drops the cached pages and parts, so that a benchmark can
// measure rendering from scratch.
func (h *Handler) Forget() {
	h.cache.mu.Lock()
	defer h.cache.mu.Unlock()
	h.cache.cat, h.cache.pages, h.cache.bytes, h.cache.summaries = nil, nil, 0, nil
	h.parts.mu.Lock()
	defer h.parts.mu.Unlock()
	h.parts.m, h.parts.bytes = nil, 0
}

// ForgetPages drops the cached pages but keeps the per-revision parts and
// the snapshot's summaries, as a query not asked before meets them.
func (h *Handler) ForgetPages() {
	h.cache.mu.Lock()
	defer h.cache.mu.Unlock()
	h.cache.pages, h.cache.bytes = map[string]cachedPage{}, 0
}

// UnsafeMarkup is htmltest.UnsafeMarkup for the external tests.
var UnsafeMarkup = htmltest.UnsafeMarkup

// Count is count for the external tests.
var Count = count
