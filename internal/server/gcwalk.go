package server

import "runtime/debug"

// tightenGC halves the collector's target (GOGC, 100 unless set) until
// the returned function restores it. The first scan of the package paths
// holds little (the catalog's revisions without their documents, about
// 4 MB over 1,918 zips) but makes a lot of short-lived garbage, and with
// the default target the heap grows to twice what is live before each
// collection: that is a serve's peak resident set. At half the target the
// peak heap is 1.5× what is live, for a few more collections of a small
// heap (docs/benchmarks.md, "Package paths at the distribution image's
// size"). A collector turned off (GOGC=off) or already tighter than 2 %
// is left as it is.
//
// Restoring also gives the scan's garbage back to the system at once
// (debug.FreeOSMemory: one more collection, then the free pages
// released): otherwise the runtime's background scavenger returns them
// over minutes, and until then the heap that follows the scan (the
// registry set up, the first index and its snapshot written, the first
// requests) grows on top of them; the process's peak was 5-6 MB higher
// for it ("Third pass on the peak RSS").
func tightenGC() (restore func()) {
	old := debug.SetGCPercent(100)
	if old < 2 {
		debug.SetGCPercent(old)
		return func() {}
	}
	debug.SetGCPercent(old / 2)
	return func() {
		debug.SetGCPercent(old)
		debug.FreeOSMemory()
	}
}
