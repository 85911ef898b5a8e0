package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var prodClient = flag.String("prod-client", "auto", "BenchmarkProductionSize's load client: wrk (fails when missing), go (in process), auto (wrk when installed)")

// kibanaHeaders are what node-fetch 2 (Kibana's HTTP client) sends with a
// GET besides Host.
var kibanaHeaders = [][2]string{
	{"Accept", "*/*"},
	{"User-Agent", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)"},
	{"Accept-Encoding", "gzip,deflate"},
	{"Connection", "close"},
}

// wrkScript rotates the paths listed (one a line) in the file named by
// $PKGSTORE_WRK_PATHS, each wrk connection from its own offset; with
// $PKGSTORE_WRK_KIBANA=1 it adds kibanaHeaders, whose Connection: close
// makes wrk open a new connection per request (TestWrkKibanaWayReconnects).
func wrkScript() string {
	var h strings.Builder
	for _, kv := range kibanaHeaders {
		fmt.Fprintf(&h, "    [%q] = %q,\n", kv[0], kv[1])
	}
	return `local paths = {}
for line in io.lines(os.getenv("PKGSTORE_WRK_PATHS")) do paths[#paths + 1] = line end
local kibana = os.getenv("PKGSTORE_WRK_KIBANA") == "1"
local headers = {}
if kibana then
  headers = {
` + h.String() + `  }
end
local i = 0
init = function(args) i = math.random(#paths) end
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1], headers)
end
`
}

// loadResult is one client run against one server.
type loadResult struct {
	rate      float64       // complete 200 answers per second
	n         float64       // answers
	clientCPU time.Duration // the client's user + system CPU (the test process's for the in-process client)
}

// useWrk says whether BenchmarkProductionSize drives the load with wrk.
func useWrk(b *testing.B) (string, bool) {
	b.Helper()
	path, err := exec.LookPath("wrk")
	switch *prodClient {
	case "go":
		return "", false
	case "wrk":
		if err != nil {
			b.Fatal("-prod-client wrk: wrk not installed (apt-get install -y wrk)")
		}
		return path, true
	}
	return path, err == nil
}

// driveWrk runs wrk -t2 -cCONNS on addr for d over paths (in turn), keep-alive
// or in Kibana's way, and fails b unless every answer was a 200.
func driveWrk(b *testing.B, wrk, addr string, paths []string, kibana bool, conns int, d time.Duration) loadResult {
	b.Helper()
	dir := b.TempDir()
	script, list := filepath.Join(dir, "kibana.lua"), filepath.Join(dir, "paths")
	if err := os.WriteFile(script, []byte(wrkScript()), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(list, []byte(strings.Join(paths, "\n")+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	threads := min(2, conns)
	// EPR renders Fleet's listing in seconds under load: wrk's default 2 s
	// timeout would count those as errors.
	args := []string{"-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(conns), "-d" + d.String(), "--timeout", "60s", "-s", script, "http://" + addr}
	cmd := exec.Command(wrk, args...)
	cmd.Env = append(os.Environ(), "PKGSTORE_WRK_PATHS="+list, "PKGSTORE_WRK_KIBANA="+map[bool]string{true: "1", false: "0"}[kibana])
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("wrk %v: %v\n%s", args, err, out)
	}
	if bytes.Contains(out, []byte("Non-2xx")) || bytes.Contains(out, []byte("Socket errors")) {
		b.Fatalf("wrk %v: errors\n%s", args, out)
	}
	m, c := wrkRate.FindSubmatch(out), wrkCount.FindSubmatch(out)
	if m == nil || c == nil {
		b.Fatalf("wrk %v: no rate or count in\n%s", args, out)
	}
	r, _ := strconv.ParseFloat(string(m[1]), 64)
	n, _ := strconv.ParseFloat(string(c[1]), 64)
	if n == 0 {
		b.Fatalf("wrk %v: no answer\n%s", args, out)
	}
	st := cmd.ProcessState
	return loadResult{rate: r, n: n, clientCPU: st.UserTime() + st.SystemTime()}
}

// selfCPU is the test process's user + system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serverCPU is a process's user and system CPU time (/proc/PID/stat).
func serverCPU(b *testing.B, pid int) (user, sys time.Duration) {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut) * 10 * time.Millisecond, time.Duration(st) * 10 * time.Millisecond
}

// machineCPU is the CPU time all cores spent out of idle, iowait and steal
// (/proc/stat), for the share of a run nobody's process time shows: the
// kernel's softirq work and the rest of the machine.
func machineCPU(b *testing.B) time.Duration {
	b.Helper()
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		b.Fatal(err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)[1:]
	var busy int64
	for i, v := range f {
		if i == 3 || i == 4 || i >= 7 { // idle, iowait, steal (the hypervisor's); guest time is in user already
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * 10 * time.Millisecond
}

// TestWrkKibanaWayReconnects: wrk with kibanaHeaders (Connection: close)
// opens a new connection per request, as node-fetch 2 does, and sends the
// headers; counted on the server's side.
func TestWrkKibanaWayReconnects(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk not installed (apt-get install -y wrk)")
	}
	var conns, reqs, bad atomic.Int64
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reqs.Add(1)
			for _, kv := range kibanaHeaders {
				if r.Header.Get(kv[0]) != kv[1] {
					bad.Add(1)
				}
			}
			if r.URL.RequestURI() != "/a?x=1" && r.URL.RequestURI() != "/b" {
				bad.Add(1)
			}
			w.Write([]byte("ok"))
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		},
	}
	go srv.Serve(l)
	defer srv.Close()
	dir := t.TempDir()
	script, list := filepath.Join(dir, "kibana.lua"), filepath.Join(dir, "paths")
	os.WriteFile(script, []byte(wrkScript()), 0o644)
	os.WriteFile(list, []byte("/a?x=1\n/b\n"), 0o644)
	cmd := exec.Command(wrk, "-t1", "-c2", "-d1s", "-s", script, "http://"+l.Addr().String())
	cmd.Env = append(os.Environ(), "PKGSTORE_WRK_PATHS="+list, "PKGSTORE_WRK_KIBANA=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	c := wrkCount.FindSubmatch(out)
	if c == nil {
		t.Fatalf("no count in\n%s", out)
	}
	n, _ := strconv.ParseInt(string(c[1]), 10, 64)
	if n < 10 || reqs.Load() < n {
		t.Fatalf("wrk counted %d requests, the server %d", n, reqs.Load())
	}
	if bad.Load() != 0 {
		t.Errorf("%d requests without node-fetch's headers or with another path", bad.Load())
	}
	// Each request on its own connection (wrk may have one more open
	// when it stops).
	if got := conns.Load(); got < reqs.Load() {
		t.Errorf("%d connections for %d requests: wrk reused connections", got, reqs.Load())
	}
}

var prodBare = flag.Bool("prod-bare", false, "BenchmarkProductionSize: in Kibana's way, also drive a bare net/http server in the test process writing the answers recorded from ours (the floor of a Go server's cost per connection)")

// startFloor records paths from addr with node-fetch's headers and
// serves them from a bare server (net.Listen, no middleware, no timeouts):
// what a connection per request costs net/http and the kernel.
func startFloor(b *testing.B, addr string, paths []string) *bareServer {
	b.Helper()
	f := newBareServer(b)
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	for _, p := range paths {
		req, _ := http.NewRequest("GET", "http://"+addr+p, nil)
		for _, kv := range kibanaHeaders[:3] {
			req.Header.Set(kv[0], kv[1])
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("record %s: %d %v", p, resp.StatusCode, err)
		}
		h := resp.Header.Clone()
		h.Del("Date")
		f.answers[p] = &recorded{status: resp.StatusCode, header: h, body: body}
	}
	return f
}
