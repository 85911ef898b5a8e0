package eprdiff_test

import (
	"context"
	"flag"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/server"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/eprdiff"
	"pkgstore/internal/testkit/eprtest"
	"pkgstore/internal/testkit/prodcorpus"
)

var prodStore = flag.Bool("eprdiff-prod", false, "run TestProductionStorage over the 10,775-revision corpus (prodcorpus.Store: cached, else generated and published, about 40 minutes)")

// TestProductionStorage compares the production-size corpus (10,775
// revisions over 430 packages, internal/testkit/prodcorpus: hundreds of
// versions of a package, prereleases among them, name families such as
// aws_logs3) in storage-indexer mode, as BenchmarkProductionSize serves
// it: the store's current index copied into fake-gcs-server, read by the
// reference's storage indexer and by our read-only server. Every /search
// and /categories of the matrices (package= of all 430 names), every
// package document, and for a seeded sample of 40 revisions (whose
// artifacts alone are copied) the zip, signature and first static files.
// Opt-in (-eprdiff-prod): the cached store is 13 GB, and is only read.
func TestProductionStorage(t *testing.T) {
	if !*prodStore {
		t.Skip("opt-in: -eprdiff-prod (the 10,775-revision store of prodcorpus.Store)")
	}
	eprtest.Script(t)
	ctx := context.Background()
	data := prodcorpus.Store(t, 1, prodcorpus.Revisions)
	src, err := storage.Open(ctx, storage.Config{DataDir: data, MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	revs := storedRevisions(t, src)
	if len(revs) != prodcorpus.Revisions {
		t.Fatalf("store %s holds %d revisions, want %d", data, len(revs), prodcorpus.Revisions)
	}
	picked := pickRevisions(revs, 40, 1)
	ids := make([]string, len(picked))
	for i := range picked {
		ids[i] = picked[i].ID.String()
		objs, err := src.Public.ListAll(ctx, &storage.ListOptions{Prefix: storage.StaticPrefix + ids[i] + "/"})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			picked[i].Files = append(picked[i].Files, strings.TrimPrefix(o.Key, storage.StaticPrefix+ids[i]+"/"))
		}
		sort.Strings(picked[i].Files)
	}
	start := time.Now()
	gc := prodcorpus.CopyToGCS(t, src, ids)
	t.Logf("copied %d public and %d internal objects into fake-gcs-server in %s", gc.NPublic, gc.NInternal, time.Since(start).Round(time.Millisecond))

	p := eprdiff.StartOurs(t, eprdiff.NewCorpus("production"), eprdiff.Options{NoPublish: true, NoReference: true,
		Configure: func(cfg *server.Config) {
			cfg.Storage = storage.Config{PublicURL: gc.Public, InternalURL: gc.Internal}
			cfg.ReadOnly = true
		}})
	p.Ref = eprtest.Start(t, eprtest.Options{
		Args: []string{"-log-level", "warn", "-feature-storage-indexer",
			"-storage-indexer-bucket-internal", gc.Internal,
			"-storage-endpoint", "http://" + gc.GCS.Host + "/" + gc.PublicName() + "/"},
		Env:          []string{"STORAGE_EMULATOR_HOST=" + gc.GCS.Host},
		StartTimeout: 10 * time.Minute,
	})
	// Both load the index after they answer /health: wait until each
	// serves the last revision.
	last := revs[len(revs)-1].ID
	for _, base := range []string{p.Ours.URL, p.Ref.URL} {
		waitServes(t, base+"/package/"+last.Name+"/"+last.Version+"/", 10*time.Minute)
	}
	start = time.Now()
	rep := p.Compare(t, eprdiff.GetOrHead(scaleRequests(revs, picked)))
	t.Logf("compared in %s", time.Since(start).Round(time.Millisecond))
	rep.Expect(t, eprdiff.LoadKnown(t, "testdata/known-storage.txt"))
}

// storedRevisions lists the revisions of a store (its package documents),
// sorted by name then version as the key sorts them.
func storedRevisions(t *testing.T, src *storage.Buckets) []eprdiff.Package {
	t.Helper()
	objs, err := src.Internal.ListAll(context.Background(), &storage.ListOptions{Prefix: storage.DocumentsPrefix})
	if err != nil {
		t.Fatal(err)
	}
	var out []eprdiff.Package
	for _, o := range objs {
		id, err := packageid.ParseZipName(strings.TrimSuffix(strings.TrimPrefix(o.Key, storage.DocumentsPrefix), ".json") + ".zip")
		if err != nil {
			t.Fatalf("document %s: %v", o.Key, err)
		}
		out = append(out, eprdiff.Package{ID: id, Source: o.Key})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out
}

// waitServes waits until url answers 200.
func waitServes(t *testing.T, url string, timeout time.Duration) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not served after %s (%v)", url, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
