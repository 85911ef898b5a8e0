//go:build !linux

package storagetest

import "os/exec"

// dieWithParent does nothing outside Linux: there a test binary killed by a
// timeout may leave its MinIO server running.
func dieWithParent(*exec.Cmd) {}
