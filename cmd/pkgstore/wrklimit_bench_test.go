package main

import (
	"bytes"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"pkgstore/internal/testkit/prodcorpus"
)

var (
	wrkRounds   = flag.Int("wrk-rounds", 6, "alternated rounds of BenchmarkWrkLimit")
	wrkDuration = flag.Duration("wrk-duration", 2*time.Second, "wrk's run per side and round in BenchmarkWrkLimit")
	wrkRoutes   = flag.String("wrk-routes", "", "BenchmarkWrkLimit: only these routes, comma-separated (categories, search-fleet, search-fleet-gzip, search-fleet-gzip-vs-identity; default all)")
	wrkProfile  = flag.String("wrk-profile", "", "BenchmarkWrkLimit: write a CPU profile of `pkgstore serve` (access log on) under wrk on /categories to this file")
)

// BenchmarkWrkLimit measures `pkgstore serve --read-only` as a separate
// process over the production-size corpus (internal/testkit/prodcorpus,
// cached by seed) with wrk (-t2 -c32, loopback) against the limit: a bare
// net/http server in the test process writing the answers recorded from
// the store (status, headers, bytes). Two stores run side by side, one
// with the per-request work of the default log level (an access-log line
// and a request id per request, to a file) and one at --log-level warn;
// every round runs the three servers in a rotated order, and the figures
// are medians of the per-round ratios (docs/benchmarks.md, "The wire limit
// with wrk"; scripts/wrk-limit.sh):
//
//	go test ./cmd/pkgstore -run '^$' -bench WrkLimit -benchtime 1x -timeout 30m
func BenchmarkWrkLimit(b *testing.B) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("wrk not installed (apt-get install wrk)")
	}
	data := prodcorpus.Store(b, *prodSeed, *prodRevisions)
	logDir := b.TempDir()
	start := func(name, level string, extra ...string) *serving {
		return startServing(b, name, "/health", func(addr string) *exec.Cmd {
			args := append([]string{"serve", "--read-only", "--addr", addr, "--data", data, "--log-level", level, "--no-ui"}, extra...)
			cmd := exec.Command(os.Args[0], args...)
			cmd.Env = append(os.Environ(), "PKGSTORE_AS_CLI=1")
			return cmd
		})
	}
	pprofAddr := freeLoopback(b)
	quiet := start("quiet", "warn")
	// The access log goes to a file, as a deployment's does (startServing
	// keeps output in memory, which is not the cost to measure).
	logged := startLoggedToFile(b, filepath.Join(logDir, "access.log"), data, pprofAddr)

	routes := []struct {
		name, path, enc, limitEnc string
	}{
		{"categories", "/categories?include_policy_templates=true", "", ""},
		{"search-fleet", "/search?prerelease=false&kibana.version=8.15.0", "", ""},
		{"search-fleet-gzip", "/search?prerelease=false&kibana.version=8.15.0", "gzip", "gzip"},
		{"search-fleet-gzip-vs-identity", "/search?prerelease=false&kibana.version=8.15.0", "gzip", ""},
	}
	if *wrkRoutes != "" {
		var kept []struct{ name, path, enc, limitEnc string }
		for _, r := range routes {
			if slices.Contains(strings.Split(*wrkRoutes, ","), r.name) {
				kept = append(kept, r)
			}
		}
		if len(kept) == 0 {
			b.Fatalf("-wrk-routes %q names no route", *wrkRoutes)
		}
		routes = kept
	}
	bare := newBareServer(b)
	for _, r := range routes {
		bare.record(b, quiet.addr, r.path, r.limitEnc)
	}
	if *wrkProfile != "" {
		profileUnderWrk(b, wrk, logged.addr, pprofAddr, "/categories?include_policy_templates=true", *wrkProfile)
	}
	b.ResetTimer()
	self := os.Getpid()
	for range b.N {
		for _, r := range routes {
			var full, lean, cost, cpuFull, cpuLean, cpuCost []float64
			var rates, cpus [3][]float64
			for round := range *wrkRounds {
				sides := []string{"bare", "logged", "quiet"}
				rot := sides[round%3:]
				rot = append(rot, sides[:round%3]...)
				rate, cpu := map[string]float64{}, map[string]float64{}
				for _, s := range rot {
					var pid int
					var url, enc string
					switch s {
					case "bare":
						pid, url, enc = self, bare.addr+bare.key(r.path, r.limitEnc), r.limitEnc
					case "logged":
						pid, url, enc = logged.cmd.Process.Pid, logged.addr+r.path, r.enc
					case "quiet":
						pid, url, enc = quiet.cmd.Process.Pid, quiet.addr+r.path, r.enc
					}
					before := cpuTime(b, pid)
					var n float64
					rate[s], n = runWrk(b, wrk, url, enc)
					// CPU time per request: what the server spends, which
					// other work on the machine does not change as much as
					// it changes the rate.
					cpu[s] = float64((cpuTime(b, pid) - before).Microseconds()) / n
				}
				full = append(full, rate["logged"]/rate["bare"])
				lean = append(lean, rate["quiet"]/rate["bare"])
				cost = append(cost, 1-rate["logged"]/rate["quiet"])
				cpuFull = append(cpuFull, cpu["bare"]/cpu["logged"])
				cpuLean = append(cpuLean, cpu["bare"]/cpu["quiet"])
				cpuCost = append(cpuCost, cpu["logged"]/cpu["quiet"]-1)
				for i, s := range []string{"bare", "logged", "quiet"} {
					rates[i] = append(rates[i], rate[s])
					cpus[i] = append(cpus[i], cpu[s])
				}
			}
			b.ReportMetric(median(full), r.name+"-x-limit")
			b.ReportMetric(median(lean), r.name+"-quiet-x-limit")
			b.ReportMetric(median(cost)*100, r.name+"-log-cost-%")
			b.ReportMetric(median(cpuFull), r.name+"-cpu-x-limit")
			b.ReportMetric(median(cpuCost)*100, r.name+"-log-cpu-cost-%")
			b.Logf("%-30s %7d B  req/s: limit %6.0f, ours %6.0f (log on) %6.0f (log off): x-limit %.2f (log on), %.2f (log off), per-request work %.1f%% (rounds: %s)",
				r.name, bare.size(r.path, r.limitEnc), median(rates[0]), median(rates[1]), median(rates[2]),
				median(full), median(lean), median(cost)*100, fmtRatios(full))
			b.Logf("%-30s %7s    CPU µs/request: limit %.1f, ours %.1f (log on) %.1f (log off): limit/ours %.2f (log on), %.2f (log off), per-request work %.1f%% of the CPU",
				"", "", median(cpus[0]), median(cpus[1]), median(cpus[2]), median(cpuFull), median(cpuLean), median(cpuCost)*100)
		}
	}
	b.StopTimer()
	if fi, err := os.Stat(filepath.Join(logDir, "access.log")); err == nil {
		b.Logf("access log: %d MB", fi.Size()>>20)
	}
}

func freeLoopback(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startLoggedToFile starts `pkgstore serve` at the default log level with
// its stderr (the access log) on file.
func startLoggedToFile(b *testing.B, file, data, pprofAddr string) *serving {
	b.Helper()
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	addr := freeLoopback(b)
	cmd := exec.Command(os.Args[0], "serve", "--read-only", "--addr", addr, "--data", data, "--log-level", "info", "--no-ui", "--pprof-addr", pprofAddr)
	cmd.Env = append(os.Environ(), "PKGSTORE_AS_CLI=1")
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s := &serving{addr: addr, cmd: cmd}
	s.stop = func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	b.Cleanup(s.stop)
	deadline := time.Now().Add(5 * time.Minute)
	for {
		select {
		case <-exited:
			b.Fatalf("logged store exited, see %s", file)
		default:
		}
		if resp, err := http.Get("http://" + addr + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("logged store not healthy, see %s", file)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var (
	wrkRate  = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkCount = regexp.MustCompile(`([0-9]+) requests in`)
)

// runWrk runs wrk -t2 -c32 on url (host:port/path) and returns its rate
// and the number of requests answered.
func runWrk(b *testing.B, wrk, url, enc string) (float64, float64) {
	b.Helper()
	args := []string{"-t2", "-c32", "-d" + wrkDuration.String(), "http://" + url}
	if enc != "" {
		args = append(args, "-H", "Accept-Encoding: "+enc)
	}
	out, err := exec.Command(wrk, args...).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk %v: %v\n%s", args, err, out)
	}
	if bytes.Contains(out, []byte("Non-2xx")) || bytes.Contains(out, []byte("Socket errors")) {
		b.Fatalf("wrk %v: errors\n%s", args, out)
	}
	m := wrkRate.FindSubmatch(out)
	if m == nil {
		b.Fatalf("wrk %v: no rate in\n%s", args, out)
	}
	r, _ := strconv.ParseFloat(string(m[1]), 64)
	c := wrkCount.FindSubmatch(out)
	if c == nil {
		b.Fatalf("wrk %v: no count in\n%s", args, out)
	}
	n, _ := strconv.ParseFloat(string(c[1]), 64)
	return r, n
}

// profileUnderWrk takes a 5 s CPU profile of the process serving pprofAddr
// while wrk drives path.
func profileUnderWrk(b *testing.B, wrk, addr, pprofAddr, path, file string) {
	b.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		exec.Command(wrk, "-t2", "-c32", "-d7s", "http://"+addr+path).Run()
	}()
	time.Sleep(time.Second)
	resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/profile?seconds=5")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	io.Copy(f, resp.Body)
	<-done
	b.Logf("CPU profile under wrk on %s: %s", path, file)
}

// bareServer is the limit: net/http with no timeouts and no middleware,
// writing answers recorded from the store.
type bareServer struct {
	addr    string
	answers map[string]*recorded
}

type recorded struct {
	status int
	header http.Header
	body   []byte
}

func newBareServer(b *testing.B) *bareServer {
	s := &bareServer{answers: map[string]*recorded{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s.addr = l.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := s.answers[r.URL.RequestURI()]
		if a == nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		for k, v := range a.header {
			h[k] = v
		}
		w.WriteHeader(a.status)
		w.Write(a.body)
	})}
	go srv.Serve(l)
	b.Cleanup(func() { srv.Close() })
	return s
}

// key is the bare server's path for an answer: the store's path with the
// coding as a last query parameter.
func (s *bareServer) key(path, enc string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "limit-enc=" + enc
}

func (s *bareServer) size(path, enc string) int { return len(s.answers[s.key(path, enc)].body) }

// record fetches path from the store at addr (with Accept-Encoding enc)
// and keeps the answer as it came (the transport does not decode it).
func (s *bareServer) record(b *testing.B, addr, path, enc string) {
	b.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
	if enc != "" {
		req.Header.Set("Accept-Encoding", enc)
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != enc {
		b.Fatalf("record %s (%q): %d %s %v", path, enc, resp.StatusCode, resp.Header.Get("Content-Encoding"), err)
	}
	h := resp.Header.Clone()
	h.Del("Date") // net/http writes its own
	s.answers[s.key(path, enc)] = &recorded{status: resp.StatusCode, header: h, body: body}
}
