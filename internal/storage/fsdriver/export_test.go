package fsdriver

import "pkgstore/internal/storage/driver"

// Internals for the external tests of the package.

const TempDir = tempDir

var (
	EscapeKey   = escapeKey
	UnescapeKey = unescapeKey
	RelPath     = relPath
)

// SetSyncFS replaces syncfs(2) until the returned function is called.
func SetSyncFS(f func(string) error) (restore func()) {
	old := doSyncFS
	doSyncFS = f
	return func() { doSyncFS = old }
}

// ForceUnnamed makes b stage in unnamed files or named ones; it reports
// whether unnamed files work in b's reserved folder.
func ForceUnnamed(b *Bucket, unnamed bool) (works bool) {
	b.stagesUnnamed()
	works = b.unnamed
	b.unnamed = unnamed
	return works
}

// StagedUnnamed reports whether s is an unnamed file.
func StagedUnnamed(s driver.Staged) bool { return s.(*staged).unnamed }
