package eprdiff_test

import (
	"encoding/json"
	"flag"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/testkit/eprdiff"
	"pkgstore/internal/testkit/sharedtest"
	"pkgstore/internal/testkit/sigtest"
)

var (
	scale      = flag.Bool("eprdiff-scale", false, "TestPackagePathsScale at the distribution image's size (1,918 zips; default 200)")
	scaleShape = flag.String("eprdiff-shape", "sample", "TestPackagePathsScale's corpus: sample (the v1 sample re-versioned) or production (1,918 zips grown into production's shapes, 2.5 GB: eprdiff.WriteProdShape; implies -eprdiff-scale)")
)

// scaleSmallNames are the v1 sample's packages the default (CI) size of
// TestPackagePathsScale grows: 39 revisions among them 0.x versions, a
// prerelease (apm 8.0.0-rc1) and kibana.version ranges from ^7.13.0 to
// ^8.4.0, so that 200 zips give each package dozens of versions.
var scaleSmallNames = []string{"apm", "aws_logs", "fleet_server", "udp", "winlog"}

// TestPackagePathsScale serves the distribution image's shape in place on
// both sides: signed zips synthesized from the v1 sample as
// BenchmarkPackagePathsStart writes them (eprdiff.SynthCorpus: many
// versions of each package), one copy in six tagged as a prerelease
// (-rcK, among 0.x and 1.x versions), signatures required.
// Every /search and /categories of the matrices (kibana.version,
// prerelease, all, capabilities, spec ranges, type, category, package= of
// every name), every package document, and for a seeded sample of
// revisions the zip, signature and a few static files; errors, redirects
// and the root. With -eprdiff-scale the whole 1,918; else 200 zips of five
// packages (scaleSmallNames). With -eprdiff-shape=production, the 1,918
// zips grown into production's shapes (eprdiff.WriteProdShape, same
// tagging), and for the sampled revisions, plus the last revision of a
// package of each shape, also one added file of each kind (a rule, a
// dashboard, a visualization, an ML module, a screenshot, a big fields
// file) and the last file.
func TestPackagePathsScale(t *testing.T) {
	t.Parallel()
	n, only := eprdiff.DistributionRevisions, []string(nil)
	if !*scale && *scaleShape != "production" {
		n, only = 200, scaleSmallNames
	}
	sample := eprdiff.BuildV1Folders(t, filepath.Join(sharedtest.UnpackV1(t), "packages"), only...)
	var c *eprdiff.Corpus
	var dir string
	var shapes map[string][]string
	switch *scaleShape {
	case "sample":
		c = eprdiff.SynthCorpus(t, "scale", sample, n, 6)
		dir = eprdiff.WriteZipDir(t, c, sigtest.NewKey(t, "scale"))
	case "production":
		dir = t.TempDir()
		var st eprdiff.ProdShapeStats
		c, st = eprdiff.WriteProdShape(t, dir, sample, n, eprdiff.ProdShapeOptions{TagEvery: 6}, sigtest.NewKey(t, "scale"))
		t.Logf("production shape: %v", st)
		shapes = st.Shapes
	default:
		t.Fatalf("-eprdiff-shape=%q: want sample or production", *scaleShape)
	}
	requirePreviewShape(t, c)
	p := eprdiff.StartPackagePaths(t, c, []string{dir}, eprdiff.PathsOptions{RequireSignatures: true})
	// Both sides serving nothing would compare alike: every revision must
	// be listed.
	code, body := p.Ours.Get(t, "/search?all=true&prerelease=true")
	var listed []json.RawMessage
	if err := json.Unmarshal(body, &listed); code != 200 || err != nil || len(listed) != n {
		t.Fatalf("/search?all=true&prerelease=true: %d, %d revisions (%v), want %d", code, len(listed), err, n)
	}
	revs := p.Revisions()
	picked := pickRevisions(revs, 40, 1)
	reqs := scaleRequests(revs, picked)
	if shapes != nil {
		all := withShapes(revs, picked, shapes)
		reqs = append(reqs, eprdiff.Artifacts(all[len(picked):])...)
		reqs = append(reqs, shapeAssets(all)...)
	}
	rep := p.Compare(t, reqs)
	rep.Expect(t, eprdiff.Known{})
}

// withShapes adds to picked the last revision (in corpus order) of the
// first package of each shape.
func withShapes(revs, picked []eprdiff.Package, shapes map[string][]string) []eprdiff.Package {
	in := map[packageid.ID]bool{}
	for _, p := range picked {
		in[p.ID] = true
	}
	out := slices.Clone(picked)
	for _, names := range shapes {
		if len(names) == 0 {
			continue
		}
		for i := len(revs) - 1; i >= 0; i-- {
			if revs[i].ID.Name == names[0] {
				if !in[revs[i].ID] {
					in[revs[i].ID] = true
					out = append(out, revs[i])
				}
				break
			}
		}
	}
	return out
}

// shapeAssets requests, for each of pkgs, the first file of each kind
// WriteProdShape adds and the last file.
func shapeAssets(pkgs []eprdiff.Package) []eprdiff.Request {
	kinds := []string{"kibana/security_rule/", "kibana/dashboard/", "kibana/visualization/", "kibana/ml_module/", "-screenshot-", "/fields/extended.yml"}
	var out []eprdiff.Request
	for _, pk := range pkgs {
		var files []string
		for _, k := range kinds {
			if i := slices.IndexFunc(pk.Files, func(f string) bool { return strings.Contains(f, k) }); i >= 0 {
				files = append(files, pk.Files[i])
			}
		}
		if len(pk.Files) > 0 {
			files = append(files, pk.Files[len(pk.Files)-1])
		}
		pk.Files = files
		out = append(out, eprdiff.Assets([]eprdiff.Package{pk})...)
	}
	return out
}

// scaleRequests is every query and document of revs, and the artifacts
// and first static files of picked (a sample of revs), errors, redirects
// and HEAD of one request of each kind.
func scaleRequests(revs, picked []eprdiff.Package) []eprdiff.Request {
	var reqs []eprdiff.Request
	reqs = append(reqs, eprdiff.Root()...)
	reqs = append(reqs, eprdiff.Queries(revs)...)
	reqs = append(reqs, eprdiff.FleetQueries(revs)...)
	reqs = append(reqs, eprdiff.Documents(revs)...)
	reqs = append(reqs, eprdiff.Artifacts(picked)...)
	for _, pk := range picked {
		if len(pk.Files) > 4 {
			pk.Files = pk.Files[:4]
		}
		reqs = append(reqs, eprdiff.Assets([]eprdiff.Package{pk})...)
	}
	reqs = append(reqs, eprdiff.Redirects(picked)...)
	reqs = append(reqs, eprdiff.Errors(picked)...)
	reqs = append(reqs, eprdiff.HeadSample(picked)...)
	return reqs
}

// pickRevisions returns up to n of revs chosen by seed, in corpus order,
// always with the first and the last.
func pickRevisions(revs []eprdiff.Package, n int, seed uint64) []eprdiff.Package {
	if len(revs) <= n {
		return revs
	}
	r := rand.New(rand.NewPCG(seed, seed))
	keep := map[int]bool{0: true, len(revs) - 1: true}
	for len(keep) < n {
		keep[r.IntN(len(revs))] = true
	}
	var out []eprdiff.Package
	for i, p := range revs {
		if keep[i] {
			out = append(out, p)
		}
	}
	return out
}

// requirePreviewShape fails unless some name's highest version carries a
// prerelease tag while every version without one is 0.x: where
// experimental=true's latest selection (tag only) and its all=true drop
// (tag or 0.x) part ways.
func requirePreviewShape(t *testing.T, c *eprdiff.Corpus) {
	t.Helper()
	type state struct {
		highest  *semver.Version
		stable1x bool
	}
	byName := map[string]*state{}
	for _, p := range c.Packages {
		v := semver.MustParse(p.ID.Version)
		s := byName[p.ID.Name]
		if s == nil {
			s = &state{}
			byName[p.ID.Name] = s
		}
		if s.highest == nil || v.GreaterThan(s.highest) {
			s.highest = v
		}
		if v.Prerelease() == "" && v.Major() > 0 {
			s.stable1x = true
		}
	}
	for _, s := range byName {
		if s.highest.Prerelease() != "" && !s.stable1x {
			return
		}
	}
	t.Fatal("the corpus has no name whose highest version is a tagged preview over 0.x versions only")
}
