package builder

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/builder/ecs"
	"pkgstore/internal/testkit/elasticpackagetest"
)

// fixtureDir holds source packages of our own, each built by both tools in
// TestDifferentialFixtures. ecs_parity uses the three ECS classes of issue
// 26: an ECS object field with an object_type (container.labels), ECS
// fields in the README's exported-fields tables, and `external: ecs` in a
// transform's fields; ecs_readme more shapes of ECS fields in README tables
// (below groups, overridden, field sets, a linked fields file); ecs_input an
// input package's own ECS fields.
const fixtureDir = "testdata/differential"

// TestDifferentialFixtures builds every package of fixtureDir with
// elastic-package and with Package, from two copies of the same source
// (both render READMEs into the source folder), compares the built trees
// file by file and the READMEs each tool wrote into its source folder, and
// publishes ours through the publishing job.
func TestDifferentialFixtures(t *testing.T) {
	if testing.Short() {
		t.Skip("runs elastic-package")
	}
	des, err := os.ReadDir(fixtureDir)
	if err != nil {
		t.Fatal(err)
	}
	ecsURL, _ := elasticpackagetest.ServeECS(t)
	ref := elasticpackagetest.NewReference(t, ecsURL)
	n := 0
	for _, de := range des {
		if !de.IsDir() {
			continue
		}
		n++
		name := de.Name()
		t.Run(name, func(t *testing.T) {
			refRoot, ourRoot := t.TempDir(), t.TempDir()
			elasticpackagetest.Repo(t, refRoot)
			elasticpackagetest.Repo(t, ourRoot)
			refPkg, ourPkg := filepath.Join(refRoot, name), filepath.Join(ourRoot, name)
			copyTree(t, filepath.Join(fixtureDir, name), refPkg)
			copyTree(t, filepath.Join(fixtureDir, name), ourPkg)
			id, err := ReadManifestID(ourPkg)
			if err != nil {
				t.Fatal(err)
			}
			want, refDur, err := ref.Build(refPkg, refRoot, id.Name, id.Version)
			if err != nil {
				t.Fatalf("elastic-package: %v", err)
			}
			resolver := &ecs.Resolver{BaseURL: ecsURL, CacheDir: t.TempDir(), Attempts: 1}
			start := time.Now()
			res, err := Package(context.Background(), ourPkg, t.TempDir(), Config{ECS: resolver, Registry: "http://127.0.0.1:1"})
			ourDur := time.Since(start)
			if err != nil {
				t.Fatalf("pkgstore: %v", err)
			}
			compareWithReference(t, name, want, res.Path, refDur, ourDur)
			// The READMEs written into the source folders, byte for byte.
			diffs, _, err := elasticpackagetest.Compare(filepath.Join(refPkg, "docs"), filepath.Join(ourPkg, "docs"))
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range diffs {
				t.Errorf("%s: source docs/: %s", name, d)
			}
			pub := &publisher{}
			if sub := pub.publish(t, res.Path, res.ID); sub.Status != api.StatusPublished {
				t.Errorf("the publishing job did not publish the built zip: %s %+v", sub.Status, sub.Reasons)
			}
		})
	}
	if n == 0 {
		t.Fatalf("no fixture package in %s", fixtureDir)
	}
}
