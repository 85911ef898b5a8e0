package main

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"pkgstore/internal/testkit/servertest"
)

// The test binary doubles as the pkgstore command (TestMain in
// guide_test.go, PKGSTORE_AS_CLI=1), so that tests can run `pkgstore serve`
// as a real child process (signals, RSS, TLS on a real listener).

// serveProc is `pkgstore serve` running as a child, logging ECS JSON.
type serveProc struct {
	cmd  *exec.Cmd
	Addr string
	mu   sync.Mutex
	logs []map[string]any
	done chan struct{}
}

// startServe runs `pkgstore serve --addr 127.0.0.1:0 --log-format ecs
// ARGS...` with extra environment variables and waits until it listens.
func startServe(t testing.TB, env []string, args ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "ecs"}, args...)...)
	cmd.Env = append(append(os.Environ(), "PKGSTORE_AS_CLI=1"), env...)
	return startProcess(t, cmd)
}

// startProcess starts cmd, which logs ECS JSON to stderr, and waits until
// it logs "serving".
func startProcess(t testing.TB, cmd *exec.Cmd) *serveProc {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var rec map[string]any
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				rec = map[string]any{"message": sc.Text(), "not_json": true}
			}
			p.mu.Lock()
			p.logs = append(p.logs, rec)
			p.mu.Unlock()
			if rec["message"] == "serving" {
				addr <- rec["addr"].(string)
			}
		}
	}()
	t.Cleanup(func() { p.stop(t) })
	select {
	case p.Addr = <-addr:
	case <-p.done:
		t.Fatalf("serve exited before listening: %v", p.Logs())
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not start: %v", p.Logs())
	}
	return p
}

// stop sends SIGTERM and waits for the exit.
func (p *serveProc) stop(t testing.TB) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan struct{})
	go func() { p.cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-exited
		t.Errorf("serve ignored SIGTERM for 20s")
	}
}

// Logs returns the records logged so far.
func (p *serveProc) Logs() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]any(nil), p.logs...)
}

// waitLog waits for a record for which match is true.
func (p *serveProc) waitLog(t *testing.T, what string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, r := range p.Logs() {
			if match(r) {
				return r
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no log record %s in %v", what, p.Logs())
	return nil
}

func TestServeTLSLogsAndReplicaToken(t *testing.T) {
	cert := servertest.SelfSignedCert(t)
	data := t.TempDir()
	// A replica serves an existing store: it creates no folder.
	for _, sub := range []string{"public", "internal"} {
		if err := os.Mkdir(filepath.Join(data, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := startServe(t, []string{"PKGSTORE_PUBLISH_TOKEN=s3cret", "PKGSTORE_TLS_MIN_VERSION=1.3"},
		"--data", data, "--read-only", "--tls-cert", cert.CertFile, "--tls-key", cert.KeyFile)
	base := "https://" + p.Addr
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cert.Pool}}}

	// The replica started despite the shared token, and said so.
	p.waitLog(t, "about the ignored token", func(r map[string]any) bool {
		m, _ := r["message"].(string)
		return strings.Contains(m, "ignoring the publish token") && r["log.level"] == "warn"
	})

	for _, tc := range []struct {
		name    string
		url     string
		hdr     map[string]string
		code    int
		echo    string // X-Request-Id expected back
		logged  bool
		checkFn func(t *testing.T, body []byte)
	}{
		{name: "health", url: "/health", code: 200},
		{name: "health verbose", url: "/health?verbose=true", code: 200, checkFn: func(t *testing.T, body []byte) {
			var h struct {
				Status string
				Index  struct{ Loaded bool }
			}
			if err := json.Unmarshal(body, &h); err != nil || h.Status != "ok" || !h.Index.Loaded {
				t.Errorf("health body %s (%v)", body, err)
			}
		}},
		{name: "search with id", url: "/search?package=none", hdr: map[string]string{"X-Request-Id": "req-42"}, code: 200, echo: "req-42", logged: true},
		{name: "unsane id replaced", url: "/categories", hdr: map[string]string{"X-Request-Id": strings.Repeat("x", 200)}, code: 200, logged: true},
		{name: "publish API off", url: "/api/v1/publish", code: 404, logged: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", base+tc.url, nil)
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Fatalf("%d %s, want %d", resp.StatusCode, body, tc.code)
			}
			if resp.TLS == nil || resp.TLS.Version != tls.VersionTLS13 {
				t.Errorf("TLS state %+v", resp.TLS)
			}
			if got := resp.Header.Get("X-Request-Id"); got != tc.echo {
				t.Errorf("X-Request-Id %q, want %q", got, tc.echo)
			}
			if tc.checkFn != nil {
				tc.checkFn(t, body)
			}
			if !tc.logged {
				return
			}
			path, _, _ := strings.Cut(tc.url, "?")
			rec := p.waitLog(t, "for "+tc.url, func(r map[string]any) bool { return r["url.path"] == path })
			for _, k := range []string{"@timestamp", "log.level", "message", "http.request.method", "url.path", "http.response.status_code", "event.duration", "http.request.id", "ecs.version", "service.name"} {
				if rec[k] == nil {
					t.Errorf("access log without %s: %v", k, rec)
				}
			}
			if rec["http.response.status_code"] != float64(tc.code) || rec["http.request.method"] != "GET" {
				t.Errorf("access log %v", rec)
			}
			if id, _ := rec["http.request.id"].(string); tc.echo != "" && id != tc.echo || tc.echo == "" && len(id) != 24 {
				t.Errorf("request id in log %q", id)
			}
		})
	}

	// TLS 1.2 is refused under --tls-min-version 1.3 (from the environment).
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cert.Pool, MaxVersion: tls.VersionTLS12}}}
	if resp, err := old.Get(base + "/health"); err == nil {
		resp.Body.Close()
		t.Error("TLS 1.2 client accepted")
	}
	// Plain HTTP on the TLS port is answered with a 400, not served.
	if resp, err := http.Get("http://" + p.Addr + "/health"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("plain HTTP: %d", resp.StatusCode)
		}
	}
	// /health is not access-logged (probes), as in EPR.
	for _, r := range p.Logs() {
		if r["url.path"] == "/health" {
			t.Errorf("/health logged: %v", r)
		}
		if r["not_json"] == true {
			t.Errorf("non-JSON log line: %v", r["message"])
		}
	}
}

func TestServeFlagErrors(t *testing.T) {
	cert := servertest.SelfSignedCert(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--tls-min-version", "1.5"}, 2, "unsupported TLS version"},
		{[]string{"--tls-cert", cert.CertFile}, 1, "both a certificate and a key"},
		{[]string{"--tls-cert", cert.CertFile, "--tls-key", cert.CertFile}, 1, "load TLS key pair"},
		{[]string{"--log-format", "xml"}, 2, "log format"},
		{[]string{"--log-level", "loud"}, 2, "log level"},
		{[]string{"--upload-min-rate", "-1"}, 2, "--upload-min-rate: -1 is negative"},
		{[]string{"--max-uploads-per-token", "0"}, 2, "--max-uploads-per-token and --upload-rate-window must be positive"},
		{[]string{"--upload-rate-window", "0s"}, 2, "--max-uploads-per-token and --upload-rate-window must be positive"},
	} {
		_, stderr, code := runCLI(t, append([]string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0"}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d %q, want %d containing %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}
