package markdown

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU is the CPU time the calling OS thread has used; ok is false
// when the platform cannot tell. The renderer locks its goroutine to its
// thread, so the difference of two readings is the render's own CPU time,
// whatever else the machine is doing.
func threadCPU() (time.Duration, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
