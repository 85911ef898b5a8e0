package server

import (
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
