package main

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

// TestInitialisersBuildNothingLazy: the state some of pkgstore's packages
// need only for some commands (the Markdown renderer and HTML sanitiser,
// the web catalog's and the token store's expressions) is built on first
// use, not by the package's initialiser, which every process runs before
// main whatever it does (docs/benchmarks.md, "Third pass on the peak
// RSS"). Read from the runtime's own trace of the initialisers
// (GODEBUG=inittrace=1) of this test binary, which links them all.
func TestInitialisersBuildNothingLazy(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	line := regexp.MustCompile(`(?m)^init (\S+) @[^,]*, [^,]* clock, (\d+) bytes`)
	seen := map[string]int{}
	for _, m := range line.FindAllStringSubmatch(string(out), -1) {
		n, _ := strconv.Atoi(m[2])
		seen[m[1]] = n
	}
	if len(seen) < 100 {
		t.Fatalf("only %d initialisers traced:\n%s", len(seen), out)
	}
	// Each allocated 60 KB to 250 KB at init before.
	for _, pkg := range []string{"pkgstore/internal/pkg/markdown", "pkgstore/internal/registry/ui", "pkgstore/internal/govern/tokens"} {
		if n := seen[pkg]; n > 8<<10 {
			t.Errorf("%s allocates %d bytes at init", pkg, n)
		}
	}
}
