package server

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestTightenGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tc := range []struct{ set, during int }{
		{100, 50},
		{300, 150},
		{3, 1},
		{1, 1},   // already tighter: left alone
		{-1, -1}, // off: left off
	} {
		debug.SetGCPercent(tc.set)
		restore := tightenGC()
		during := debug.SetGCPercent(tc.during)
		restore()
		after := debug.SetGCPercent(100)
		if during != tc.during || after != tc.set {
			t.Errorf("GOGC %d: %d during, %d after; want %d, %d", tc.set, during, after, tc.during, tc.set)
		}
	}
}

// TestTightenGCGivesGarbageBack: the garbage made while the target is
// tightened is given back to the system when it is restored, not left
// for the background scavenger (which returns a few MB a second at most).
func TestTightenGCGivesGarbageBack(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	restore := tightenGC()
	// 64 MiB of short-lived garbage, with some of it live at any time.
	var keep [][]byte
	for i := range 1024 {
		b := make([]byte, 64<<10)
		b[0] = byte(i)
		keep = append(keep, b)
		if len(keep) > 64 {
			keep = keep[1:]
		}
	}
	runtime.KeepAlive(keep)
	keep = nil
	restore()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	// Free pages still held (idle, not released).
	if held := ms.HeapIdle - ms.HeapReleased; held > 4<<20 {
		t.Errorf("%d KiB of free heap pages kept after the scan", held>>10)
	}
}
