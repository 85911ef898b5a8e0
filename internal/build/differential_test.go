package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/build/eptest"
	"pkgstore/internal/ecs"
	"pkgstore/internal/shareddata"
)

// corpus is a shared archive of source packages and how to find them in it.
type corpus struct {
	name    string
	archive string
	list    func(t *testing.T, root string) []string // package folders, relative
}

var corpora = []corpus{
	{"elastic-package", shareddata.ElasticPackagePackages, topLevelPackages},
	{"spec-fixtures", shareddata.SpecFixtures, fixturesWithDevBuild},
}

// topLevelPackages lists the folders of root holding manifest.yml.
func topLevelPackages(t *testing.T, root string) []string {
	des, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if _, err := os.Stat(filepath.Join(root, de.Name(), "manifest.yml")); de.IsDir() && err == nil {
			out = append(out, de.Name())
		}
	}
	return out
}

// fixturesWithDevBuild lists valid/NAME and invalid/NAME that have
// _dev/build.
func fixturesWithDevBuild(t *testing.T, root string) []string {
	var out []string
	for _, group := range []string{"valid", "invalid"} {
		des, err := os.ReadDir(filepath.Join(root, group))
		if err != nil {
			t.Fatal(err)
		}
		for _, de := range des {
			if fi, err := os.Stat(filepath.Join(root, group, de.Name(), "_dev", "build")); err == nil && fi.IsDir() {
				out = append(out, group+"/"+de.Name())
			}
		}
	}
	return out
}

// verdict of one package.
type verdict struct {
	pkg       string
	outcome   string // identical, differs, both refuse, only elastic-package refuses, only pkgstore refuses
	diffs     []eptest.Diff
	files     int
	ref, ours time.Duration
	refErr    error
	ourErr    error
}

func (v verdict) ok() bool { return v.outcome == "identical" || v.outcome == "both refuse" }

// TestDifferential builds every package of both corpora with
// elastic-package and with Package, and compares the built trees file by
// file. Run with -v for the per-package verdicts and timings.
func TestDifferential(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every corpus package twice")
	}
	ecsURL, _ := eptest.ServeECS(t)
	for _, c := range corpora {
		t.Run(c.name, func(t *testing.T) {
			root := eptest.Corpus(t, c.archive)
			ref := eptest.NewReference(t, ecsURL)
			resolver := &ecs.Resolver{BaseURL: ecsURL, CacheDir: t.TempDir(), Attempts: 1}
			var verdicts []verdict
			for _, rel := range c.list(t, root) {
				v := compareOne(t, ref, resolver, root, rel)
				verdicts = append(verdicts, v)
				if !v.ok() {
					var b strings.Builder
					fmt.Fprintf(&b, "%s: %s", rel, v.outcome)
					for _, d := range v.diffs {
						fmt.Fprintf(&b, "\n    %s", d)
					}
					if v.refErr != nil {
						fmt.Fprintf(&b, "\n    elastic-package: %s", firstLines(v.refErr.Error(), 6))
					}
					if v.ourErr != nil {
						fmt.Fprintf(&b, "\n    pkgstore: %s", firstLines(v.ourErr.Error(), 6))
					}
					t.Error(b.String())
				}
			}
			report(t, c.name, verdicts)
		})
	}
}

func compareOne(t *testing.T, ref *eptest.Reference, resolver *ecs.Resolver, root, rel string) verdict {
	t.Helper()
	v := verdict{pkg: rel}
	dir := filepath.Join(root, filepath.FromSlash(rel))
	id, err := ReadManifestID(dir)
	if err != nil {
		v.ourErr = err
	}
	var want string
	if err == nil {
		want, v.ref, v.refErr = ref.Build(dir, root, id.Name, id.Version)
	} else {
		v.refErr = errors.New("no readable manifest")
	}
	out := t.TempDir()
	start := time.Now()
	res, err := Package(context.Background(), dir, out, Config{ECS: resolver, Registry: "http://127.0.0.1:1"})
	v.ours = time.Since(start)
	v.ourErr = err
	switch {
	case v.refErr != nil && v.ourErr != nil:
		v.outcome = "both refuse"
	case v.refErr != nil:
		v.outcome = "only elastic-package refuses"
	case v.ourErr != nil:
		v.outcome = "only pkgstore refuses"
	default:
		got, err := eptest.Unzip(res.Path, t.TempDir())
		if err != nil {
			t.Fatalf("%s: unzip ours: %v", rel, err)
		}
		v.diffs, v.files, err = eptest.Compare(want, got)
		if err != nil {
			t.Fatalf("%s: compare: %v", rel, err)
		}
		v.outcome = "identical"
		if len(v.diffs) > 0 {
			v.outcome = "differs"
		}
	}
	return v
}

func report(t *testing.T, name string, vs []verdict) {
	sort.Slice(vs, func(i, j int) bool { return vs[i].pkg < vs[j].pkg })
	var identical, built, refusedBoth int
	var refTotal, ourTotal time.Duration
	var b strings.Builder
	for _, v := range vs {
		switch v.outcome {
		case "identical":
			identical++
		case "both refuse":
			refusedBoth++
		}
		if v.refErr == nil {
			built++
		}
		if v.refErr == nil && v.ourErr == nil {
			refTotal += v.ref
			ourTotal += v.ours
		}
		fmt.Fprintf(&b, "\n  %-55s %-30s files %3d  elastic-package %6.0fms  pkgstore %6.0fms", v.pkg, v.outcome, v.files,
			float64(v.ref.Microseconds())/1000, float64(v.ours.Microseconds())/1000)
		if v.outcome == "both refuse" {
			fmt.Fprintf(&b, "\n      elastic-package: %s\n      pkgstore: %s", lastLine(v.refErr), lastLine(v.ourErr))
		}
	}
	ratio := 0.0
	if refTotal > 0 {
		ratio = float64(ourTotal) / float64(refTotal)
	}
	t.Logf("corpus %s: %d of %d packages that elastic-package builds are identical; %d refused by both; build time pkgstore/elastic-package = %.3f (%v / %v)%s",
		name, identical, built, refusedBoth, ratio, ourTotal.Round(time.Millisecond), refTotal.Round(time.Millisecond), b.String())
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, "\n      ")
}

// lastLine is the most specific line of an error: elastic-package prints
// its reason last, ours comes first.
func lastLine(err error) string {
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	s := lines[len(lines)-1]
	if len(lines) > 1 && strings.HasPrefix(err.Error(), "build ") {
		s = strings.Join(lines[:min(3, len(lines))], " | ")
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
