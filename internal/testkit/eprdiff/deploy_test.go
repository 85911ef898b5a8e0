package eprdiff

import (
	"strings"
	"testing"
)

// TestDeploymentShapes: the generator draws every shape it documents, each
// in a few seeds of the first 300 (TestEPRDeployments' long run), so that
// a change to it cannot silently stop covering one.
func TestDeploymentShapes(t *testing.T) {
	shapes := []string{
		// The first stream.
		"package_paths as one string", "package_paths as a flow list", "a package path twice", "a missing package path",
		"an empty package path", "cache_time as a nested mapping", "unknown keys", "config.yml empty", "no config.yml",
		"config elsewhere", "config by absolute path", "nested zip", "NAME-VERSION folder", "zip in a hidden folder",
		"a .zip that is not one", "as a zip in", "without its README", "folder holding version 1.0.0",
		"a boolean flag with its value after a space",
		// The second stream.
		"a dangling link", "a link to a zip outside", "a version folder with build metadata", "as two variants",
		"a folder in the signature's place", "an anchor and an alias", "a merge key", "a YAML 1.1 number",
		"a null cache time", "a tab after a colon", "a document start marker", "a second document",
		"a byte order mark", "CRLF line endings", "a link to its README", "a folder package with a dangling link",
	}
	envs := []string{"EPR_LOG_TYPE=", "EPR_NOT_A_FLAG=1", "EPR_PACKAGE_PATHS_WORKERS=0"}
	count := map[string]int{}
	for seed := int64(1); seed <= 300; seed++ {
		d := GenerateDeployment(seed)
		what := strings.Join(d.What, "\n")
		for _, s := range shapes {
			if strings.Contains(what, s) {
				count[s]++
			}
		}
		env := strings.Join(d.Env, "\n")
		for _, e := range envs {
			if strings.Contains(env, e) {
				count[e]++
			}
		}
	}
	for _, s := range append(shapes, envs...) {
		if count[s] < 2 {
			t.Errorf("%q drawn in %d of 300 deployments", s, count[s])
		}
	}
	// The same seed, the same deployment.
	a, b := GenerateDeployment(7), GenerateDeployment(7)
	if strings.Join(a.What, "\n") != strings.Join(b.What, "\n") {
		t.Error("seed 7 generated two different deployments")
	}
}
