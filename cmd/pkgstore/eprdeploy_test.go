package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"pkgstore/internal/testkit/buftest"
	"pkgstore/internal/testkit/eprdiff"
	"pkgstore/internal/testkit/eprtest"
	"pkgstore/internal/testkit/sharedtest"
)

var (
	eprDeploySeeds = flag.Int("eprdeploy.seeds", 12, "generated EPR deployments TestEPRDeployments runs (seeds FROM..FROM+N-1)")
	eprDeployFrom  = flag.Int64("eprdeploy.from", 1, "first seed of TestEPRDeployments")
)

// TestEPRDeployments runs generated EPR deployments (eprdiff.GenerateDeployment:
// config.yml shapes, EPR_* variables against flags, package folder layouts)
// through the reference EPR and through ours as `package-registry`, each a
// process over an identical copy of the deployment: both must start or
// both refuse (same exit code), and when both start every route a client
// asks answers alike (status, body, the headers EPR sets, and ETag and
// Last-Modified wherever EPR sends them). More seeds: -eprdeploy.seeds=N,
// others: -eprdeploy.from=K.
func TestEPRDeployments(t *testing.T) {
	t.Parallel()
	eprtest.Script(t)
	src := &eprdiff.DeploySources{Dir: filepath.Join(sharedtest.Dir(t), "testdata", "epr-packages", "package")}
	bin := filepath.Join(t.TempDir(), "package-registry")
	if err := os.Symlink(os.Args[0], bin); err != nil {
		t.Fatal(err)
	}
	// Both kinds must occur, or the run proved less than it says.
	var started, refused atomic.Int32
	t.Cleanup(func() {
		t.Logf("%d deployments started on both sides, %d refused by both", started.Load(), refused.Load())
		if !t.Failed() && *eprDeploySeeds >= 12 && (started.Load() == 0 || refused.Load() == 0) {
			t.Errorf("%d started, %d refused: the generator no longer covers both", started.Load(), refused.Load())
		}
	})
	for seed := *eprDeployFrom; seed < *eprDeployFrom+int64(*eprDeploySeeds); seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			d := eprdiff.GenerateDeployment(seed)
			ref := runDeployment(t, d, src, eprtest.Script(t), nil)
			ours := runDeployment(t, d, src, bin, []string{"PKGSTORE_AS_CLI=1"})
			if ref.started != ours.started || ref.code != ours.code {
				t.Fatalf("deployment %d:\n  %s\nreference: started %v, exit %d: %s\nours: started %v, exit %d: %s",
					seed, strings.Join(d.What, "\n  "), ref.started, ref.code, ref.tail(), ours.started, ours.code, ours.tail())
			}
			if !ref.started {
				refused.Add(1)
				t.Logf("both refused (exit %d)\n  reference: %s\n  ours: %s", ref.code, ref.tail(), ours.tail())
				return
			}
			started.Add(1)
			reqs := d.Requests(src)
			rep, err := eprdiff.DiffURLs(t.Context(), fmt.Sprintf("deployment-%d", seed), ours.url, ref.url, reqs)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Variants) > 0 {
				// Two copies of one NAME-VERSION that differ: EPR's
				// legacy selection may answer the later indexer's copy,
				// ours the served one's (docs/epr-dropin.md, "Still
				// different, on purpose"). Every other route is exact.
				n := len(rep.Diffs)
				rep.Diffs = slices.DeleteFunc(rep.Diffs, func(x eprdiff.Diff) bool { return strings.Contains(x.Request.Target, "experimental=true") })
				if n > len(rep.Diffs) {
					t.Logf("%d experimental=true answers differ by the documented deviation (variants %q)", n-len(rep.Diffs), d.Variants)
				}
			}
			t.Log(rep.String())
			if len(rep.Diffs) > 0 {
				t.Logf("deployment %d:\n  %s", seed, strings.Join(d.What, "\n  "))
			}
			rep.Expect(t, eprdiff.Known{})
			validatorsAlike(t, ours.url, ref.url, reqs)
		})
	}
}

// validatorsAlike checks that ours sends ETag and Last-Modified wherever
// the reference sends them (their values differ by design: docs/registry.md).
func validatorsAlike(t *testing.T, ours, ref string, reqs []eprdiff.Request) {
	t.Helper()
	for _, r := range reqs {
		if r.Method != "" {
			continue
		}
		b, err := eprdiff.Fetch(t.Context(), ref, r)
		if err != nil {
			t.Fatal(err)
		}
		if b.Status != http.StatusOK || (b.Header.Get("ETag") == "" && b.Header.Get("Last-Modified") == "") {
			continue
		}
		a, err := eprdiff.Fetch(t.Context(), ours, r)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range []string{"ETag", "Last-Modified"} {
			if b.Header.Get(h) != "" && a.Header.Get(h) == "" {
				t.Errorf("%s: reference sends %s, ours does not", r.Key(), h)
			}
		}
	}
}

// deployRun is one side's run of a deployment.
type deployRun struct {
	started bool
	code    int // exit code when it did not start
	url     string
	out     *buftest.Buffer
}

func (r *deployRun) tail() string {
	s := strings.TrimSpace(r.out.String())
	if len(s) > 1500 {
		s = "…" + s[len(s)-1500:]
	}
	return s
}

// runDeployment writes d below a new root and runs prog there with d's
// command line and environment until /health answers 200 or it exits.
func runDeployment(t *testing.T, d *eprdiff.Deployment, src *eprdiff.DeploySources, prog string, env []string) *deployRun {
	t.Helper()
	root := t.TempDir()
	d.Write(t, src, root)
	addr := freeAddr(t)
	args, denv := d.Command(root, addr)
	cmd := exec.Command(prog, args...)
	cmd.Dir = eprdiff.WorkDir(root)
	cmd.Env = append(append(os.Environ(), env...), denv...)
	run := &deployRun{url: "http://" + addr, out: &buftest.Buffer{}}
	cmd.Stdout, cmd.Stderr = run.out, run.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-done:
			run.code = cmd.ProcessState.ExitCode()
			return run
		case <-ctx.Done():
			t.Fatalf("%s neither healthy nor exited after 2 minutes: %s", prog, run.tail())
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := client.Get(run.url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				run.started = true
				return run
			}
		}
	}
}
