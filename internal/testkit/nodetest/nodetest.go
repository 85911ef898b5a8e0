// Package nodetest finds the Node.js programs pkgstore's tests run against:
// Azurite (the Azure Blob emulator) and Kibana Fleet's own client libraries
// (node-fetch 2, openpgp 5). They are pinned in .ci/npm/package.json and
// package-lock.json and installed by .ci/run (`npm ci --prefix .ci/npm`),
// never downloaded by a test.
package nodetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// InstallHint says how to get what Modules needs.
const InstallHint = "npm ci --prefix .ci/npm (run from the repository root; .ci/run does it)"

// Root returns the repository's .ci/npm folder, found from this source file.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", ".ci", "npm")
}

// Modules returns the node_modules folder holding the pinned packages, after
// checking that node and the named packages are there. Without them it skips
// the test, or fails it under CI=true (.ci/run installs them).
func Modules(t testing.TB, packages ...string) string {
	t.Helper()
	missing := func(what string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is missing: .ci/run installs it (%s)", what, InstallHint)
		}
		t.Skipf("%s is missing; install it with: %s (in CI, CI=true, this fails instead)", what, InstallHint)
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing("node")
	}
	dir := filepath.Join(Root(), "node_modules")
	for _, p := range packages {
		if _, err := os.Stat(filepath.Join(dir, p, "package.json")); err != nil {
			missing("npm package " + p)
		}
	}
	return dir
}

// Bin returns the path of an executable an installed package provides
// (node_modules/.bin/NAME), or skips/fails as Modules does.
func Bin(t testing.TB, pkg, name string) string {
	t.Helper()
	return filepath.Join(Modules(t, pkg), ".bin", name)
}
