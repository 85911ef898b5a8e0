// Package processtest lets a test binary share an expensive fixture (a store
// filled through the real publishing job) across tests: the test that
// happens to build it passes Wrap(t) to helpers, whose cleanups and
// temporary folders then wait for the end of the process instead of ending
// with that test (which would stop the fixture under every later test).
package processtest

import (
	"os"
	"sync"
	"testing"
)

var (
	mu       sync.Mutex
	cleanups []func()
)

// TB is a testing.TB whose Cleanup and TempDir last until Main returns.
type TB struct{ testing.TB }

// Wrap returns tb with process-long cleanups.
func Wrap(tb testing.TB) TB { return TB{tb} }

// Cleanup runs f when Main ends, after the tests (last added, first run).
func (TB) Cleanup(f func()) {
	mu.Lock()
	defer mu.Unlock()
	cleanups = append(cleanups, f)
}

// TempDir returns a new folder removed when Main ends.
func (p TB) TempDir() string {
	d, err := os.MkdirTemp("", "processtest-")
	if err != nil {
		p.Fatal(err)
	}
	p.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// Main runs the tests, then the process-long cleanups, and exits with the
// tests' code. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	runCleanups()
	os.Exit(code)
}

func runCleanups() {
	mu.Lock()
	fns := cleanups
	cleanups = nil
	mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}
