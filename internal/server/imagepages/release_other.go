//go:build !linux

package imagepages

// Release does nothing outside Linux (no /proc/self/maps); it returns 0.
func Release() (int64, error) { return 0, nil }
