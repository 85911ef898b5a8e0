package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/testkit/eprdiff"
	"pkgstore/internal/testkit/eprtest"
	"pkgstore/internal/testkit/sharedtest"
	"pkgstore/internal/testkit/sigtest"
)

// distributionRevisions is the size of the v1 production branch the
// distribution image bakes in (issue 22).
const distributionRevisions = eprdiff.DistributionRevisions

var (
	pkgpathsShape = flag.String("pkgpaths-shape", "sample", "BenchmarkPackagePathsStart's corpus: sample (the v1 sample re-versioned, 160 MB) or production (grown into production's shapes, 2.5 GB: eprdiff.WriteProdShape)")
	pkgpathsDir   = flag.String("pkgpaths-dir", "", "BenchmarkPackagePathsStart's folder of zips, kept: when it holds *.zip they are served as they are (a corpus kept by an earlier run, or real production zips), else the -pkgpaths-shape corpus is written there")
)

// BenchmarkPackagePathsStart measures, side by side over the same folder
// of 1,918 signed zips (the v1 sample's 269 revisions, then copies with
// the patch version raised by 1000, 2000, … until there are 1,918), the
// time from process start to /health answering 200 and the peak resident
// set (VmHWM, after the first /search?all=true) of the reference EPR and
// of `pkgstore serve --package-path` (a first start, which reads every zip
// and writes its cache, and a restart over the unchanged folder).
// pkgstore is the command built from this folder (not the test binary).
// Package validation is off on both sides (v1 packages predate the spec
// EPR validates against):
//
//	go test ./cmd/pkgstore -run '^$' -bench PackagePathsStart -benchtime 1x
//
// -pkgpaths-shape=production serves the same number of zips grown into
// production's shapes instead (2.5 GB: security rules, dashboards,
// screenshots…, eprdiff.WriteProdShape); -pkgpaths-dir DIR keeps the
// corpus in DIR for the next run (generating the production shape takes
// about a minute) or serves the zips DIR already holds.
func BenchmarkPackagePathsStart(b *testing.B) {
	script := eprtest.Script(b)
	dir := benchZipDir(b)
	var total int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, _ error) error {
		if fi, err := d.Info(); err == nil && !d.IsDir() {
			total += fi.Size()
		}
		return nil
	})
	zips, _ := filepath.Glob(filepath.Join(dir, "*.zip"))
	b.Logf("%d zips, %d MB with signatures, in %s", len(zips), total>>20, dir)
	cfg := filepath.Join(b.TempDir(), "epr.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("package_paths:\n  - %q\n", dir)), 0o644)
	bin := buildCommand(b)
	var eprT, coldT, warmT time.Duration
	var eprRSS, coldRSS, warmRSS int64
	var eprCPU, coldCPU, warmCPU time.Duration
	for range b.N {
		data := b.TempDir()
		eprT, eprRSS, eprCPU = startMeasured(b, func(addr string) *exec.Cmd {
			return exec.Command(script, "-address", addr, "-config", cfg, "-disable-package-validation", "-log-level", "warn")
		})
		ours := func(addr string) *exec.Cmd {
			return exec.Command(bin, "serve", "--addr", addr, "--data", data, "--package-path", dir,
				"--no-spec-validation", "--log-level", "warn", "--no-ui")
		}
		coldT, coldRSS, coldCPU = startMeasured(b, ours)
		warmT, warmRSS, warmCPU = startMeasured(b, ours)
	}
	b.ReportMetric(eprT.Seconds(), "epr-start-s")
	b.ReportMetric(coldT.Seconds(), "ours-start-s")
	b.ReportMetric(warmT.Seconds(), "ours-restart-s")
	b.ReportMetric(coldT.Seconds()/eprT.Seconds(), "start-ratio")
	b.ReportMetric(warmT.Seconds()/eprT.Seconds(), "restart-ratio")
	// CPU time to healthy: what the wall time is on an idle machine with
	// as many cores as the process uses, whatever else the machine runs.
	b.ReportMetric(eprCPU.Seconds(), "epr-cpu-s")
	b.ReportMetric(coldCPU.Seconds(), "ours-cpu-s")
	b.ReportMetric(warmCPU.Seconds(), "ours-restart-cpu-s")
	b.ReportMetric(coldCPU.Seconds()/eprCPU.Seconds(), "cpu-ratio")
	b.ReportMetric(float64(eprRSS>>20), "epr-rss-MB")
	b.ReportMetric(float64(coldRSS>>20), "ours-rss-MB")
	b.ReportMetric(float64(warmRSS>>20), "ours-restart-rss-MB")
	b.ReportMetric(float64(coldRSS)/float64(eprRSS), "rss-ratio")
	b.ReportMetric(float64(warmRSS)/float64(eprRSS), "restart-rss-ratio")
}

// buildCommand builds pkgstore as operators run it (the image's build:
// the release tags, docs/deploy.md) and returns the executable. The test
// binary would do the same work, but it links the test kit too (fake
// servers, the differential suite), whose initialisers alone add about
// 7 MB to its resident set.
func buildCommand(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "pkgstore")
	if out, err := exec.Command("go", "build", "-tags", releaseTags, "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// releaseTags are the build tags of a release build (the Dockerfile's):
// disable_grpc_modules leaves out the GCS client's gRPC DirectPath
// balancers (xDS and its envoy types), which pkgstore never uses: the GCS
// driver speaks the JSON API (TestReleaseBuildLeavesOutXDS).
const releaseTags = "disable_grpc_modules"

// startMeasured starts the process cmd makes for a free loopback address,
// returns the time until /health answered 200, its peak RSS after one
// /search?all=true and the CPU time it used until healthy, and stops it.
func startMeasured(b *testing.B, mk func(addr string) *exec.Cmd) (time.Duration, int64, time.Duration) {
	b.Helper()
	s := startServing(b, "the registry", "/health", mk)
	defer s.stop()
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + s.addr + "/search?all=true")
	if err != nil {
		b.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if n < 1000 {
		b.Fatalf("/search?all=true: %d bytes", n)
	}
	return s.load, peakRSS(b, s.cmd.Process.Pid), s.cpu
}

// cpuTime is the user and system time of a process (its /proc stat, in
// clock ticks of 1/100 s).
func cpuTime(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which may hold spaces), from 3 on.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// benchZipDir returns the folder of zips the flags choose: -pkgpaths-dir
// as it is when it holds zips, else a new corpus of the -pkgpaths-shape
// written into it (or into a temporary folder).
func benchZipDir(b *testing.B) string {
	b.Helper()
	dir := *pkgpathsDir
	if dir != "" {
		if zips, _ := filepath.Glob(filepath.Join(dir, "*.zip")); len(zips) > 0 {
			// Said, because a folder left by an interrupted run or of
			// the other shape is served as it is too.
			b.Logf("serving the %d zips already in %s as they are (-pkgpaths-shape not applied)", len(zips), dir)
			return dir
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
	} else {
		dir = b.TempDir()
	}
	sample := eprdiff.BuildV1Folders(b, filepath.Join(sharedtest.UnpackV1(b), "packages"))
	key := sigtest.NewKey(b, "bench")
	switch *pkgpathsShape {
	case "sample":
		eprdiff.WriteZipsInto(b, eprdiff.SynthCorpus(b, "distribution", sample, distributionRevisions, 0), dir, key)
	case "production":
		start := time.Now()
		_, st := eprdiff.WriteProdShape(b, dir, sample, distributionRevisions, eprdiff.ProdShapeOptions{}, key)
		b.Logf("production shape written in %v: %v", time.Since(start).Round(time.Second), st)
	default:
		b.Fatalf("-pkgpaths-shape=%q: want sample or production", *pkgpathsShape)
	}
	return dir
}
