// Package prodcorpus generates a reproducible corpus at the size of EPR's
// production index (10,775 revisions, the figure EPR's own docs give for a
// 22 MB search-index-all.json) and publishes it through the real
// publishing job into a file store, cached on disk by seed and size.
//
// Every revision is a real package of the v1 sample (docs, icons,
// screenshots, data streams, fields, dashboards as Elastic wrote them)
// renamed and re-versioned: the sample's 56 packages are the templates of
// Packages packages (copies get a suffix, as production's names are
// families: aws, aws_bedrock, …), the number of versions per package is
// drawn from a log-normal distribution (a few packages with hundreds of
// versions, most with a handful, as in production), and each version of a
// package takes the documents of one of its template's revisions in turn,
// so that versions of a package differ as real ones do. Version numbers
// climb by patch, minor and major steps with a share of prereleases.
// The seed decides everything; the same seed gives the same zips, byte for
// byte.
package prodcorpus

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/testkit/eprdiff"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sharedtest"
)

// Revisions is the size of EPR's production index in its docs.
const Revisions = 10775

// Packages is the number of packages the corpus spreads its revisions
// over (production's index held about this many when it had 10,775
// revisions: 25 versions per package on average).
const Packages = 430

// Revision is one generated zip.
type Revision struct {
	ID  packageid.ID
	Zip []byte
}

var (
	manifestName    = regexp.MustCompile(`(?m)^name:.*$`)
	manifestVersion = regexp.MustCompile(`(?m)^version:.*$`)
)

// Generate returns n revisions over packages packages, decided by seed.
// The zips are built from the v1 sample (../shared), which tb skips
// without.
func Generate(tb testing.TB, seed uint64, n, packages int) []Revision {
	tb.Helper()
	built := templates(tb)
	// Templates: each sample package's revisions in version order.
	byName := map[string][]eprdiff.Built{}
	var names []string
	for _, b := range built {
		if _, ok := byName[b.ID.Name]; !ok {
			names = append(names, b.ID.Name)
		}
		byName[b.ID.Name] = append(byName[b.ID.Name], b)
	}
	sort.Strings(names)
	r := rand.New(rand.NewPCG(seed, 0x5ca1e))
	counts := spread(r, n, packages)
	type job struct {
		tmpl    eprdiff.Built
		name    string
		version string
	}
	var jobs []job
	for p := range packages {
		tmplName := names[p%len(names)]
		name := tmplName
		if p >= len(names) {
			name = fmt.Sprintf("%s_%s", tmplName, suffix(r, p/len(names)))
		}
		revs := byName[tmplName]
		start := r.IntN(len(revs))
		for i, v := range versions(r, counts[p]) {
			jobs = append(jobs, job{tmpl: revs[(start+i)%len(revs)], name: name, version: v})
		}
	}
	out := make([]Revision, len(jobs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	errs := make([]error, len(jobs))
	for i, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			data, err := revise(j.tmpl.Zip, j.tmpl.ID.Name+"-"+j.tmpl.ID.Version, j.name+"-"+j.version, j.name, j.version)
			out[i], errs[i] = Revision{ID: packageid.ID{Name: j.name, Version: j.version}, Zip: data}, err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			tb.Fatalf("prodcorpus: revision %d (%s): %v", i, jobs[i].tmpl.Source, err)
		}
	}
	return out
}

var (
	templatesMu    sync.Mutex
	templatesBuilt []eprdiff.Built
)

// templates builds the v1 sample's zips once per process.
func templates(tb testing.TB) []eprdiff.Built {
	tb.Helper()
	templatesMu.Lock()
	defer templatesMu.Unlock()
	if templatesBuilt == nil {
		templatesBuilt = eprdiff.BuildV1Folders(tb, filepath.Join(sharedtest.UnpackV1(tb), "packages"))
	}
	return templatesBuilt
}

// spread draws the number of versions of each of packages packages from a
// log-normal distribution (σ 1.3: the largest package holds a few percent
// of all revisions) and scales them to sum to n, each at least 1.
func spread(r *rand.Rand, n, packages int) []int {
	w := make([]float64, packages)
	var sum float64
	for i := range w {
		w[i] = math.Exp(1.3 * r.NormFloat64())
		sum += w[i]
	}
	counts := make([]int, packages)
	left := n
	for i := range counts {
		counts[i] = 1 + int(w[i]/sum*float64(n-packages))
		left -= counts[i]
	}
	for i := 0; left > 0; i = (i + 1) % packages {
		counts[i]++
		left--
	}
	return counts
}

var suffixes = []string{"logs", "metrics", "cloud", "audit", "security", "otel", "agent", "enterprise", "v2", "events", "native", "streaming"}

func suffix(r *rand.Rand, k int) string {
	return fmt.Sprintf("%s%d", suffixes[r.IntN(len(suffixes))], k)
}

// versions returns count ascending versions: mostly patch steps, some
// minor and a few major ones, 6 % prereleases (which the next version
// passes).
func versions(r *rand.Rand, count int) []string {
	major, minor, patch := r.IntN(2), r.IntN(5), 0
	out := make([]string, 0, count)
	for range count {
		v := fmt.Sprintf("%d.%d.%d", major, minor, patch)
		if r.Float64() < 0.06 {
			v += []string{"-preview1", "-beta1", "-rc1"}[r.IntN(3)]
		}
		out = append(out, v)
		switch x := r.Float64(); {
		case x < 0.03:
			major, minor, patch = major+1, 0, 0
		case x < 0.28:
			minor, patch = minor+1, 0
		default:
			patch++
		}
	}
	return out
}

// revise copies a package zip with its root folder renamed and the
// manifest's name and version replaced; other entries are copied
// compressed as they are.
func revise(data []byte, oldRoot, newRoot, name, version string) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		h := f.FileHeader
		h.Name = newRoot + strings.TrimPrefix(f.Name, oldRoot)
		if f.Name == oldRoot+"/manifest.yml" {
			rc, err := f.Open()
			if err != nil {
				return nil, err
			}
			m, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return nil, err
			}
			m = manifestName.ReplaceAll(m, []byte("name: "+name))
			m = manifestVersion.ReplaceAll(m, []byte("version: "+version))
			w, err := zw.CreateHeader(&h)
			if err != nil {
				return nil, err
			}
			if _, err := w.Write(m); err != nil {
				return nil, err
			}
			continue
		}
		w, err := zw.CreateRaw(&h)
		if err != nil {
			return nil, err
		}
		rc, err := f.OpenRaw()
		if err != nil {
			return nil, err
		}
		if _, err := io.Copy(w, rc); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Store returns the --data folder of a file store holding the corpus of n
// revisions generated from seed, every one published through the real
// publishing job (legacy: the v1 packages predate the package spec). The
// store is kept under the system's temporary folder, keyed by seed and
// size, and reused by later runs: publishing 10,775 revisions takes
// minutes on 2 cores.
func Store(tb testing.TB, seed uint64, n int) string {
	tb.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("pkgstore-prodcorpus-s%d-n%d", seed, n))
	data := filepath.Join(dir, "data")
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		return data
	}
	if err := os.RemoveAll(dir); err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	revs := Generate(tb, seed, n, min(Packages, n))
	var total int64
	for _, r := range revs {
		total += int64(len(r.Zip))
	}
	tb.Logf("prodcorpus: generated %d revisions (%d MB of zips) in %s", len(revs), total>>20, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	store := servertest.Start(tb, servertest.Options{Data: data})
	defer store.Stop()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	errs := make([]error, len(revs))
	for i, rv := range revs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			sub, err := store.Client.Publish(ctx, rv.ID.ZipName(), bytes.NewReader(rv.Zip), store.Key.Sign(tb, rv.Zip), client.Options{Legacy: true})
			if err == nil && sub.Status != api.StatusPublished {
				err = fmt.Errorf("%s %v", sub.Status, sub.Reasons)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			tb.Fatalf("prodcorpus: publish %s: %v", revs[i].ID, err)
		}
	}
	// The index holds every revision once the last one is visible and the
	// indexer has written a cursor after it; wait for all.
	for _, rv := range revs {
		store.WaitVisible(tb, rv.ID.Name, rv.ID.Version)
	}
	store.Stop()
	tb.Logf("prodcorpus: published %d revisions in %s into %s", len(revs), time.Since(start).Round(time.Millisecond), data)
	if err := os.WriteFile(filepath.Join(dir, "complete"), []byte(fmt.Sprintf("%d revisions, seed %d\n", len(revs), seed)), 0o644); err != nil {
		tb.Fatal(err)
	}
	return data
}
