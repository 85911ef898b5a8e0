package eprdiff_test

import (
	"encoding/json"
	"flag"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/Masterminds/semver/v3"

	"pkgstore/internal/testkit/eprdiff"
	"pkgstore/internal/testkit/sharedtest"
	"pkgstore/internal/testkit/sigtest"
)

var scale = flag.Bool("eprdiff-scale", false, "TestPackagePathsScale at the distribution image's size (1,918 zips; default 200)")

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
// packages (scaleSmallNames).
func TestPackagePathsScale(t *testing.T) {
	t.Parallel()
	n, only := eprdiff.DistributionRevisions, []string(nil)
	if !*scale {
		n, only = 200, scaleSmallNames
	}
	sample := eprdiff.BuildV1Folders(t, filepath.Join(sharedtest.UnpackV1(t), "packages"), only...)
	c := eprdiff.SynthCorpus(t, "scale", sample, n, 6)
	requirePreviewShape(t, c)
	dir := eprdiff.WriteZipDir(t, c, sigtest.NewKey(t, "scale"))
	p := eprdiff.StartPackagePaths(t, c, []string{dir}, eprdiff.PathsOptions{RequireSignatures: true})
	// Both sides serving nothing would compare alike: every revision must
	// be listed.
	code, body := p.Ours.Get(t, "/search?all=true&prerelease=true")
	var listed []json.RawMessage
	if err := json.Unmarshal(body, &listed); code != 200 || err != nil || len(listed) != n {
		t.Fatalf("/search?all=true&prerelease=true: %d, %d revisions (%v), want %d", code, len(listed), err, n)
	}
	revs := p.Revisions()
	rep := p.Compare(t, scaleRequests(revs, pickRevisions(revs, 40, 1)))
	rep.Expect(t, eprdiff.Known{})
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
