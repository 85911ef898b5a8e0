//go:build !linux

package markdown

import "time"

// threadCPU cannot tell a thread's CPU time here: the budget falls back to
// wall time.
func threadCPU() (time.Duration, bool) { return 0, false }
