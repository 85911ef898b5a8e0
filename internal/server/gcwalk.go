package server

import "runtime/debug"

// tightenGC halves the collector's target (GOGC, 100 unless set) until
// the returned function restores it. The first scan of the package paths
// holds little (the catalog's compressed documents, about 8 MB over 1,918
// zips) but makes a lot of short-lived garbage, and with the default
// target the heap grows to twice what is live before each collection:
// that is a serve's peak resident set. At half the target the peak heap
// is 1.5× what is live, for a few more collections of a small heap
// (docs/benchmarks.md, "Package paths at the distribution image's size").
// A collector turned off (GOGC=off) or already tighter than 2 % is left
// as it is.
func tightenGC() (restore func()) {
	old := debug.SetGCPercent(100)
	if old < 2 {
		debug.SetGCPercent(old)
		return func() {}
	}
	debug.SetGCPercent(old / 2)
	return func() { debug.SetGCPercent(old) }
}
