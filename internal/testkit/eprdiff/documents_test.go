package eprdiff_test

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"pkgstore/internal/builder"
	"pkgstore/internal/testkit/elasticpackagetest"
	"pkgstore/internal/testkit/eprdiff"
	"pkgstore/internal/testkit/gentest"
	"pkgstore/internal/testkit/sharedtest"
)

// Package documents of the corpora that only this file serves: packages
// built by the reference builder, and generated packages. The EPR test
// packages and the v1 sample are compared request by request (documents
// included) in corpora_test.go.

var (
	genSeed  = flag.Uint64("seed", envUint("EPRDIFF_SEED", 1), "seed of the generated corpus (env EPRDIFF_SEED)")
	genCount = flag.Int("generated", int(envUint("EPRDIFF_GENERATED", 300)), "number of generated packages (env EPRDIFF_GENERATED)")
)

func envUint(name string, def uint64) uint64 {
	if v, err := strconv.ParseUint(os.Getenv(name), 10, 64); err == nil {
		return v
	}
	return def
}

// TestGeneratedDocuments publishes gentest's packages for one seed and
// compares every /package/N/V/ document (status, body, headers) with the
// reference's, and /search and /categories over them with Fleet's
// defaults.
func TestGeneratedDocuments(t *testing.T) {
	eprtestSkip(t)
	seed, n := *genSeed, *genCount
	dir := t.TempDir()
	if _, err := gentest.Write(dir, seed, n); err != nil {
		t.Fatalf("generate (seed %d): %v", seed, err)
	}
	c := eprdiff.NewCorpus("generated-" + strconv.FormatUint(seed, 10))
	c.AddV1Folders(t, dir)
	p := eprdiff.Start(t, c, eprdiff.Options{Legacy: true})
	reqs := append(eprdiff.Documents(p.Revisions()), eprdiff.Get("/search", "/search?all=true&prerelease=true",
		"/categories?prerelease=true", "/categories?include_policy_templates=true&prerelease=true")...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("reproduce with: go test ./internal/testkit/eprdiff -run TestGeneratedDocuments -args -seed=%d -generated=%d", seed, n)
		}
	})
	p.Compare(t, reqs).Expect(t, eprdiff.Known{})
}

// TestElasticPackageDocuments builds elastic-package's test packages with
// the reference builder (skipping those it refuses), publishes the zips it
// wrote and compares every package document.
func TestElasticPackageDocuments(t *testing.T) {
	eprtestSkip(t)
	if testing.Short() {
		t.Skip("builds every package with elastic-package")
	}
	ecsURL, _ := elasticpackagetest.ServeECS(t)
	root := elasticpackagetest.Corpus(t, sharedtest.ElasticPackagePackages)
	ref := elasticpackagetest.NewReference(t, ecsURL)
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	built, refused := 0, 0
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "manifest.yml")); !e.IsDir() || err != nil {
			continue
		}
		id, err := builder.ReadManifestID(dir)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		if _, _, err := ref.Build(dir, root, id.Name, id.Version); err != nil {
			refused++
			t.Logf("%s: elastic-package refuses to build it, left out", e.Name())
			continue
		}
		built++
	}
	if built == 0 {
		t.Fatal("elastic-package built none of the packages")
	}
	c := eprdiff.NewCorpus("elastic-package")
	c.AddZipDir(t, filepath.Join(root, "build", "packages"), false)
	p := eprdiff.Start(t, c, eprdiff.Options{Legacy: true})
	t.Logf("%d built by elastic-package, %d refused", built, refused)
	rep := p.Compare(t, eprdiff.Documents(p.Revisions()))
	rep.Expect(t, eprdiff.Known{})
}

// eprtestSkip skips when ../shared (and with it the reference) is absent.
func eprtestSkip(t *testing.T) { sharedtest.Dir(t) }

// TestGeneratedStorage has the reference's storage indexers read the
// generated packages' documents from our index (EPR decodes each document
// with its own structs and serves it again): every document and the
// /search forms must come back as we serve them.
func TestGeneratedStorage(t *testing.T) {
	eprtestSkip(t)
	seed := *genSeed
	dir := t.TempDir()
	if _, err := gentest.Write(dir, seed, 40); err != nil {
		t.Fatalf("generate (seed %d): %v", seed, err)
	}
	c := eprdiff.NewCorpus("generated-storage-" + strconv.FormatUint(seed, 10))
	c.AddV1Folders(t, dir)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("reproduce with: go test ./internal/testkit/eprdiff -run TestGeneratedStorage -args -seed=%d", seed)
		}
	})
	s := eprdiff.StartStorage(t, c, eprdiff.Options{Legacy: true}, c.Packages, eprdiff.StorageModes)
	for i, p := range s.Pairs {
		t.Run(eprdiff.StorageModes[i].Name, func(t *testing.T) {
			reqs := append(eprdiff.Documents(p.Revisions()), eprdiff.Get("/search?all=true&prerelease=true",
				"/categories?prerelease=true&include_policy_templates=true")...)
			p.Compare(t, eprdiff.GetOrHead(reqs)).Expect(t, eprdiff.LoadKnown(t, "testdata/known-generated-storage.txt"))
		})
	}
}
