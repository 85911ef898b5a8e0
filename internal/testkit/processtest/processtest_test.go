package processtest

import (
	"os"
	"testing"
)

// TestCleanupsWaitForTheProcess: cleanups registered through Wrap do not run
// when the test ends, and a TempDir outlives it; running them removes it.
func TestCleanupsWaitForTheProcess(t *testing.T) {
	var dir string
	ran := false
	t.Run("builder", func(t *testing.T) {
		tb := Wrap(t)
		dir = tb.TempDir()
		tb.Cleanup(func() { ran = true })
	})
	if ran {
		t.Fatal("cleanup ran when the test that registered it ended")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("temp dir gone with its test: %v", err)
	}
	runCleanups()
	if !ran {
		t.Fatal("cleanup did not run")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("temp dir still there: %v", err)
	}
}
