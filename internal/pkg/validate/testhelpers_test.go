package validate

import (
	"os"
	"os/exec"
	"path/filepath"
	"pkgstore/internal/testkit/sharedtest"
	"sync"
	"testing"
)

// sharedDir locates ../shared, or "" when absent.
func sharedDir() string { return sharedtest.Locate() }

var (
	extractMu   sync.Mutex
	extractDirs = map[string]string{}
)

// extractShared extracts ../shared/testdata/<archive> once per test binary
// and returns the directory; the test is skipped when ../shared is absent.
func extractShared(tb testing.TB, archive string) string {
	tb.Helper()
	s := sharedDir()
	if s == "" {
		tb.Skip("../shared is absent")
	}
	src := filepath.Join(s, "testdata", archive)
	if _, err := os.Stat(src); err != nil {
		tb.Skipf("%s is absent", src)
	}
	extractMu.Lock()
	defer extractMu.Unlock()
	if d, ok := extractDirs[archive]; ok {
		return d
	}
	d, err := os.MkdirTemp("", "pkgstore-validate-")
	if err != nil {
		tb.Fatal(err)
	}
	out, err := exec.Command("tar", "-xzf", src, "-C", d).CombinedOutput()
	if err != nil {
		tb.Fatalf("extract %s: %v: %s", src, err, out)
	}
	extractDirs[archive] = d
	return d
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range extractDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}
