package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"pkgstore/internal/client"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/testkit/gpgtest"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/ziptest"
)

// TestMain lets the test binary double as the pkgstore command, so that
// the guide's shell lines run the real command line without a build.
func TestMain(m *testing.M) {
	if os.Getenv("PKGSTORE_AS_CLI") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// guideCommands returns the shell lines ("$ ...") of a guide's code blocks.
func guideCommands(t *testing.T, doc string) []string {
	t.Helper()
	f, err := os.Open(doc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			in = !in
			continue
		}
		if in && strings.HasPrefix(line, "$ ") {
			out = append(out, strings.TrimPrefix(line, "$ "))
		}
	}
	return out
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestAirGappedGuide runs every command of docs/air-gapped.md, in order,
// through bash, with a loopback upstream for https://epr.elastic.co and a
// loopback store for http://registry.internal:8080.
func TestAirGappedGuide(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (.ci/run installs it): the guide's commands need it", tool)
		}
	}
	gpg := gpgtest.New(t)
	elastic := sigtest.NewKey(t, "elastic")
	up := servertest.Start(t, servertest.Options{Key: elastic})
	type rv struct{ name, version string }
	all := []rv{{"aws", "1.0.0"}, {"aws", "2.0.0"}, {"aws", "2.1.0"}, {"awsfirehose", "0.1.0"}, {"nginx", "1.0.0"}, {"nginx", "1.1.0"}, {"system", "1.0.0"}}
	for _, r := range all {
		z := ziptest.Package(t, r.name, r.version)
		if sub := up.Publish(t, r.name+"-"+r.version+".zip", z, client.Options{Legacy: true}); sub.Status != "published" {
			t.Fatalf("publish: %+v", sub)
		}
	}
	for _, r := range all {
		up.WaitVisible(t, r.name, r.version)
	}
	// The selection the guide's filters make: the newest two of aws*,
	// nginx; not system.
	want := []string{"aws-2.0.0", "aws-2.1.0", "awsfirehose-0.1.0", "nginx-1.0.0", "nginx-1.1.0"}

	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(os.Args[0], filepath.Join(bin, "pkgstore")); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(elastic.PublicPath)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(work, "elastic.asc"), pub)
	siteAddr := freeAddr(t)
	env := append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "PKGSTORE_AS_CLI=1", "GNUPGHOME="+gpg.Dir, "TOKEN="+servertest.Token)
	subst := strings.NewReplacer("https://epr.elastic.co", up.URL, "http://registry.internal:8080", "http://"+siteAddr, "0.0.0.0:8080", siteAddr)

	cmds := guideCommands(t, filepath.Join("..", "..", "docs", "air-gapped.md"))
	if len(cmds) < 8 {
		t.Fatalf("only %d commands found in the guide", len(cmds))
	}
	for _, line := range cmds {
		line = subst.Replace(line)
		if strings.HasPrefix(line, "pkgstore serve") {
			cmd := exec.Command("bash", "-c", "exec "+line)
			cmd.Dir, cmd.Env = work, env
			var logs strings.Builder
			cmd.Stdout, cmd.Stderr = &logs, &logs
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
				_ = cmd.Wait()
				if t.Failed() {
					t.Logf("serve output:\n%s", logs.String())
				}
			})
			waitHealthy(t, "http://"+siteAddr)
			continue
		}
		out := runGuideLine(t, line, work, env)
		if strings.HasPrefix(line, "curl") {
			// A publication is visible on /search after the indexer's next
			// pass, a moment after import returns (the guide says so).
			for deadline := time.Now().Add(20 * time.Second); !strings.Contains(string(out), `"awsfirehose"`) && time.Now().Before(deadline); {
				time.Sleep(200 * time.Millisecond)
				out = runGuideLine(t, line, work, env)
			}
		}
		t.Logf("$ %s\n%s", line, out)
		switch {
		case strings.Contains(line, "--dry-run"):
			for _, id := range want {
				if !strings.Contains(string(out), "would mirror  "+id) {
					t.Errorf("dry run does not list %s:\n%s", id, out)
				}
			}
			if strings.Contains(string(out), "system") {
				t.Errorf("dry run lists system:\n%s", out)
			}
		case strings.HasPrefix(line, "pkgstore import"):
			if !strings.Contains(string(out), fmt.Sprintf("published:       %d", len(want))) {
				t.Errorf("import did not publish %d revisions:\n%s", len(want), out)
			}
		case strings.HasPrefix(line, "curl"):
			var items []struct{ Name, Version string }
			if err := json.Unmarshal(out, &items); err != nil {
				t.Fatalf("curl output: %v", err)
			}
			var got []string
			for _, it := range items {
				got = append(got, it.Name+"-"+it.Version)
			}
			if strings.Join(got, " ") != "aws-2.1.0 awsfirehose-0.1.0 nginx-1.1.0" {
				t.Errorf("the site's /search?kibana.version=8.15.0: %v", got)
			}
		case strings.Contains(line, "--to "):
			// The site already has everything from the bundle.
			if !strings.Contains(string(out), "published:       0 (0 B)") || !strings.Contains(string(out), "already present: 3") || !strings.Contains(string(out), "failed:          0") {
				t.Errorf("mirror into the filled site transferred something:\n%s", out)
			}
		}
	}
	// The site serves exactly the selection, as the upstream does.
	site, _ := client.New("http://"+siteAddr, servertest.Token)
	for _, r := range all {
		id := r.name + "-" + r.version
		ok, err := site.Published(context.Background(), packageid.ID{Name: r.name, Version: r.version})
		if err != nil {
			t.Fatal(err)
		}
		if in := contains(want, id); ok != in {
			t.Errorf("%s at the site: %v, want %v", id, ok, in)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func waitHealthy(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s not healthy after 30s", base)
}

// runGuideLine runs one of the guide's commands with bash in work and
// returns its output; a failure fails t.
func runGuideLine(t *testing.T, line, work string, env []string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", line)
	cmd.Dir, cmd.Env = work, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}
	return out
}
