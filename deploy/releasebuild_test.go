package deploy_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestReleaseBuildLeavesOutXDS: the image's build (dockerBuild) passes
// disable_grpc_modules, the GCS client's own switch for its gRPC
// DirectPath balancers. pkgstore's GCS driver speaks the JSON API and never
// dials DirectPath, and without them the binary loses xDS and about a
// hundred packages of envoy types: 85 -> 66 MB, 70 -> 52 ms of package
// initialisers and 47 -> 39 MB resident for `pkgstore version`
// (docs/deploy.md, "Building from source"). A dependency that brings them
// back by another way fails here.
func TestReleaseBuildLeavesOutXDS(t *testing.T) {
	if !strings.Contains(dockerBuild, "-tags disable_grpc_modules ") {
		t.Fatalf("the image's build does not pass the release tags: %s", dockerBuild)
	}
	deps := func(tags ...string) []string {
		args := append([]string{"list", "-deps"}, tags...)
		cmd := exec.Command("go", append(args, "./cmd/pkgstore")...)
		cmd.Dir = repoRoot
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps %v: %v", tags, err)
		}
		return strings.Fields(string(out))
	}
	heavy := func(p string) bool {
		return strings.HasPrefix(p, "github.com/envoyproxy/") || strings.HasPrefix(p, "google.golang.org/grpc/xds")
	}
	count := func(ps []string) (n int) {
		for _, p := range ps {
			if heavy(p) {
				n++
			}
		}
		return n
	}
	plain, release := deps(), deps("-tags", "disable_grpc_modules")
	if count(plain) == 0 {
		t.Fatal("no dependency links xDS any more: the release tag is obsolete (drop it from the Dockerfile, the benchmarks and docs/deploy.md)")
	}
	if n := count(release); n != 0 {
		for _, p := range release {
			if heavy(p) {
				t.Errorf("the release build links %s", p)
			}
		}
		t.Fatalf("%d xDS/envoy packages linked with disable_grpc_modules", n)
	}
	t.Logf("%d packages, %d without the gRPC modules", len(plain), len(release))
}
