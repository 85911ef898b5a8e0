// Package treetest writes folder trees (package sources, v1 checkouts) for
// tests.
package treetest

import (
	"os"
	"path/filepath"
	"testing"
)

// Write creates files (slash-separated path -> content) below dir.
func Write(tb testing.TB, dir string, files map[string]string) {
	tb.Helper()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}
