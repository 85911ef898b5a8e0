package publish

import (
	"pkgstore/internal/testkit/storagetest"
	"runtime"
	"testing"
)

func TestDefaultWorkers(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	b := storagetest.OpenData(t, t.TempDir())
	for _, c := range []struct{ procs, set, want int }{
		{1, 0, 2}, // at least 2
		{2, 0, 3}, // one more than the cores
		{8, 0, 9},
		{8, 4, 4}, // an explicit count wins
	} {
		runtime.GOMAXPROCS(c.procs)
		p, err := New(Config{Buckets: b, Workers: c.set})
		if err != nil {
			t.Fatal(err)
		}
		if p.cfg.Workers != c.want {
			t.Errorf("GOMAXPROCS %d, Workers %d: %d workers, want %d", c.procs, c.set, p.cfg.Workers, c.want)
		}
	}
}
