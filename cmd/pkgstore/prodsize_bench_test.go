package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/eprtest"
	"pkgstore/internal/testkit/prodcorpus"
)

var (
	prodSeed      = flag.Uint64("prod-seed", 1, "seed of BenchmarkProductionSize's corpus")
	prodRevisions = flag.Int("prod-revisions", prodcorpus.Revisions, "revisions of BenchmarkProductionSize's corpus")
	prodDuration  = flag.Duration("prod-duration", 3*time.Second, "length of each side's run per route, mode and round in BenchmarkProductionSize")
	prodRounds    = flag.Int("prod-rounds", 2, "alternated rounds per route and mode in BenchmarkProductionSize")
	prodConns     = flag.Int("prod-conns", 16, "client connections (keep-alive) or requests in flight (Kibana's way) in BenchmarkProductionSize")
	prodRoutes    = flag.String("prod-routes", "", "BenchmarkProductionSize: comma-separated routes to run (search-fleet, search-package, categories, package; empty: all)")
	prodModes     = flag.String("prod-modes", "keepalive,kibana", "BenchmarkProductionSize: comma-separated modes to run (keepalive, kibana)")
)

// selected says whether name is in the comma-separated list (an empty
// list selects all).
func selected(list, name string) bool {
	if list == "" {
		return true
	}
	for _, s := range strings.Split(list, ",") {
		if strings.TrimSpace(s) == name {
			return true
		}
	}
	return false
}

// BenchmarkProductionSize serves the production-size corpus (10,775
// revisions, internal/testkit/prodcorpus, published through the job and
// cached on disk by seed) from GCS buckets in fake-gcs-server, read by the
// reference EPR through its storage indexer and by `pkgstore serve
// --read-only` as a separate process, and reports for each: the time from
// process start until the newest revision's document answers 200 (the
// index loaded), the CPU time used by then, the peak RSS (VmHWM, after the
// load), and the requests per second of Fleet's routes, keep-alive and as
// Kibana's node-fetch 2 sends them (a new connection per request,
// Accept-Encoding: gzip,deflate, Connection: close), in alternated rounds.
// Ratios are ours over EPR's (docs/benchmarks.md):
//
//	go test ./cmd/pkgstore -run '^$' -bench ProductionSize -benchtime 1x -timeout 60m
func BenchmarkProductionSize(b *testing.B) {
	script := eprtest.Script(b)
	data := prodcorpus.Store(b, *prodSeed, *prodRevisions)
	ctx := context.Background()
	src, err := storage.Open(ctx, storage.Config{DataDir: data, MustExist: true})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	t := targetsOf(b, src)
	start := time.Now()
	// The routes measured read no artifact: the public bucket gets the
	// artifacts of the revisions the load asks for only, the internal one
	// the current cursor's index (prodcorpus.CopyToGCS).
	gc := prodcorpus.CopyToGCS(b, src, t.ids)
	g := gc.GCS
	b.Logf("copied %d public and %d internal objects into fake-gcs-server in %s", gc.NPublic, gc.NInternal, time.Since(start).Round(time.Millisecond))
	// The catalog snapshot the indexer writes beside each cursor (stores
	// published before it existed have none): made here, untimed, from the
	// store's index, without writing to the cached store.
	snap := prodSnapshot(b, src.Internal, gc.Cursor)
	g.Server.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: gc.InternalName(), Name: storage.IndexSnapshotKey(gc.Cursor)}, Content: snap})
	b.Logf("catalog snapshot of cursor %s: %.1f MB", gc.Cursor, float64(len(snap))/(1<<20))
	all, err := src.Internal.Attributes(ctx, storage.IndexAllKey(gc.Cursor))
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("search-index-all.json of cursor %s: %d MB", gc.Cursor, all.Size>>20)

	pubName, intName, internal := gc.PublicName(), gc.InternalName(), gc.Internal
	b.ResetTimer()
	for range b.N {
		epr := startServing(b, "epr", t.ready, func(addr string) *exec.Cmd {
			cfg := filepath.Join(b.TempDir(), "epr.yml")
			os.WriteFile(cfg, []byte("package_paths: []\n"), 0o644)
			cmd := exec.Command(script, "-address", addr, "-config", cfg, "-log-level", "warn",
				"-feature-storage-indexer",
				"-storage-indexer-bucket-internal", internal,
				"-storage-endpoint", "http://"+g.Host+"/"+pubName+"/")
			cmd.Env = append(os.Environ(), "STORAGE_EMULATOR_HOST="+g.Host)
			return cmd
		})
		ours := startServing(b, "ours", t.ready, func(addr string) *exec.Cmd {
			cmd := exec.Command(os.Args[0], "serve", "--read-only", "--addr", addr,
				"--public-bucket", "gs://"+pubName, "--internal-bucket", "gs://"+intName,
				"--log-level", "warn", "--no-ui")
			cmd.Env = append(os.Environ(), "PKGSTORE_AS_CLI=1", "STORAGE_EMULATOR_HOST="+g.Host)
			return cmd
		})
		b.ReportMetric(epr.load.Seconds(), "epr-load-s")
		b.ReportMetric(ours.load.Seconds(), "ours-load-s")
		b.ReportMetric(ours.load.Seconds()/epr.load.Seconds(), "load-ratio")
		b.ReportMetric(epr.cpu.Seconds(), "epr-load-cpu-s")
		b.ReportMetric(ours.cpu.Seconds(), "ours-load-cpu-s")
		b.ReportMetric(ours.cpu.Seconds()/epr.cpu.Seconds(), "load-cpu-ratio")
		b.Logf("load to serving: EPR %s (%s CPU), ours %s (%s CPU): %.3f× (CPU %.3f×)",
			epr.load.Round(time.Millisecond), epr.cpu, ours.load.Round(time.Millisecond), ours.cpu,
			ours.load.Seconds()/epr.load.Seconds(), ours.cpu.Seconds()/epr.cpu.Seconds())
		wrk, withWrk := useWrk(b)
		client := "in-process Go client"
		if withWrk {
			client = "wrk"
		}
		b.Logf("load client: %s, %d connections, %s per side and round", client, *prodConns, *prodDuration)
		for _, route := range t.routes {
			if !selected(*prodRoutes, route.name) {
				continue
			}
			for _, kibana := range []bool{false, true} {
				mode := "keepalive"
				if kibana {
					mode = "kibana"
				}
				if !selected(*prodModes, mode) {
					continue
				}
				var eprRates, ourRates, ratios, cpuRatios []float64
				// Per request, µs: each server's user and system CPU, the
				// client's, and the machine's (all cores out of idle).
				var eprUser, eprSys, ourUser, ourSys, eprClient, ourClient, eprMachine, ourMachine []float64
				for round := range *prodRounds {
					sides := []*serving{epr, ours}
					if round%2 == 1 {
						sides = []*serving{ours, epr}
					}
					rate, cpu := map[*serving]float64{}, map[*serving]float64{}
					for _, s := range sides {
						u0, s0 := serverCPU(b, s.cmd.Process.Pid)
						m0 := machineCPU(b)
						var res loadResult
						if withWrk {
							res = driveWrk(b, wrk, s.addr, route.paths, kibana, *prodConns, *prodDuration)
						} else {
							res = drive(b, s.addr, route.paths, kibana, *prodConns, *prodDuration)
						}
						m1 := machineCPU(b)
						u1, s1 := serverCPU(b, s.cmd.Process.Pid)
						per := func(d time.Duration) float64 { return float64(d.Microseconds()) / res.n }
						user, sys, cl, mach := per(u1-u0), per(s1-s0), per(res.clientCPU), per(m1-m0)
						if s == epr {
							eprUser, eprSys, eprClient, eprMachine = append(eprUser, user), append(eprSys, sys), append(eprClient, cl), append(eprMachine, mach)
						} else {
							ourUser, ourSys, ourClient, ourMachine = append(ourUser, user), append(ourSys, sys), append(ourClient, cl), append(ourMachine, mach)
						}
						rate[s], cpu[s] = res.rate, user+sys
					}
					eprRates = append(eprRates, rate[epr])
					ourRates = append(ourRates, rate[ours])
					ratios = append(ratios, rate[ours]/rate[epr])
					cpuRatios = append(cpuRatios, cpu[epr]/cpu[ours])
				}
				name := route.name + "-" + mode
				if kibana && *prodBare {
					floorOf(b, wrk, withWrk, ours, route, name)
				}
				b.ReportMetric(median(eprRates), name+"-epr-req/s")
				b.ReportMetric(median(ourRates), name+"-ours-req/s")
				b.ReportMetric(median(ratios), name+"-x-epr")
				b.ReportMetric(median(eprUser)+median(eprSys), name+"-epr-server-cpu-µs/req")
				b.ReportMetric(median(ourUser)+median(ourSys), name+"-ours-server-cpu-µs/req")
				b.ReportMetric(median(cpuRatios), name+"-cpu-x-epr")
				b.Logf("%-16s %-9s EPR %9.1f req/s, ours %9.1f req/s: %6.1f× (rounds %s)",
					route.name, mode, median(eprRates), median(ourRates), median(ratios), fmtRatios(ratios))
				b.Logf("%-16s %-9s CPU µs/request, server user+sys: EPR %.1f+%.1f, ours %.1f+%.1f: EPR/ours %.1f× (rounds %s); client: %.1f / %.1f; machine: %.1f / %.1f",
					"", "", median(eprUser), median(eprSys), median(ourUser), median(ourSys), median(cpuRatios), fmtRatios(cpuRatios),
					median(eprClient), median(ourClient), median(eprMachine), median(ourMachine))
			}
		}
		eprRSS, ourRSS := peakRSS(b, epr.cmd.Process.Pid), peakRSS(b, ours.cmd.Process.Pid)
		b.ReportMetric(float64(eprRSS>>20), "epr-rss-MB")
		b.ReportMetric(float64(ourRSS>>20), "ours-rss-MB")
		b.ReportMetric(float64(ourRSS)/float64(eprRSS), "rss-ratio")
		b.ReportMetric(float64(epr.rss>>20), "epr-loaded-rss-MB")
		b.ReportMetric(float64(ours.rss>>20), "ours-loaded-rss-MB")
		b.Logf("peak RSS: EPR %d MB (%d MB once loaded), ours %d MB (%d MB once loaded): %.3f×",
			eprRSS>>20, epr.rss>>20, ourRSS>>20, ours.rss>>20, float64(ourRSS)/float64(eprRSS))
		epr.stop()
		ours.stop()
	}
}

// route is a set of paths the load cycles through.
type route struct {
	name  string
	paths []string
}

type targets struct {
	ids    []string // NAME-VERSION of the documents asked for
	ready  string   // the newest revision's document: the index is loaded
	routes []route
}

// targetsOf picks Fleet's requests from the store's own index: the
// listing, package= searches and documents of the 20 packages with the
// most versions (the installed integrations of a busy site), categories.
func targetsOf(b *testing.B, src *storage.Buckets) targets {
	b.Helper()
	ctx := context.Background()
	revs, err := src.Internal.ListAll(ctx, &storage.ListOptions{Prefix: storage.DocumentsPrefix})
	if err != nil {
		b.Fatal(err)
	}
	versions := map[string][]string{}
	var newest string
	var newestT time.Time
	for _, o := range revs {
		id := strings.TrimSuffix(strings.TrimPrefix(o.Key, storage.DocumentsPrefix), ".json")
		name, version, ok := strings.Cut(id, "-")
		if !ok {
			continue
		}
		versions[name] = append(versions[name], version)
		if o.ModTime.After(newestT) {
			newest, newestT = "/package/"+name+"/"+version+"/", o.ModTime
		}
	}
	names := make([]string, 0, len(versions))
	for n := range versions {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if len(versions[names[i]]) != len(versions[names[j]]) {
			return len(versions[names[i]]) > len(versions[names[j]])
		}
		return names[i] < names[j]
	})
	names = names[:min(20, len(names))]
	var search, docs, ids []string
	for _, n := range names {
		search = append(search, "/search?package="+n)
		vs := versions[n]
		docs = append(docs, "/package/"+n+"/"+vs[len(vs)-1]+"/")
		ids = append(ids, n+"-"+vs[len(vs)-1])
	}
	b.Logf("%d revisions over %d packages; the busiest has %d versions", len(revs), len(versions), len(versions[names[0]]))
	return targets{ids: ids, ready: newest, routes: []route{
		{"search-fleet", []string{"/search?prerelease=false&kibana.version=8.15.0"}},
		{"search-package", search},
		{"categories", []string{"/categories?prerelease=false&include_policy_templates=true&kibana.version=8.15.0"}},
		{"package", docs},
	}}
}

// serving is a registry process under measurement.
type serving struct {
	addr string
	cmd  *exec.Cmd
	load time.Duration // start to `ready` answering 200
	cpu  time.Duration // CPU time used by then
	rss  int64         // VmHWM by then
	stop func()
}

// startServing starts the process mk makes and waits until ready answers
// 200 (through /health first, so that a process that never listens fails
// clearly).
func startServing(b *testing.B, name, ready string, mk func(addr string) *exec.Cmd) *serving {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := mk(addr)
	logs := &bytes.Buffer{}
	var mu sync.Mutex
	cmd.Stdout = lockedWriter{&mu, logs}
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s := &serving{addr: addr, cmd: cmd}
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		})
	}
	b.Cleanup(s.stop)
	c := &http.Client{Timeout: 5 * time.Second}
	for {
		select {
		case <-exited:
			mu.Lock()
			b.Fatalf("%s exited before serving %s:\n%s", name, ready, logs.String())
		default:
		}
		resp, err := c.Get("http://" + addr + ready)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				s.load = time.Since(start)
				s.cpu = cpuTime(b, cmd.Process.Pid)
				s.rss = peakRSS(b, cmd.Process.Pid)
				return s
			}
		}
		if time.Since(start) > 15*time.Minute {
			mu.Lock()
			b.Fatalf("%s does not serve %s after 15 minutes:\n%s", name, ready, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// drive sends GETs of paths (in turn) to addr from conns clients for d and
// returns the rate of complete 200 answers. Keep-alive clients hold one
// connection each; kibana clients send what node-fetch 2 sends (a new
// connection per request, Connection: close, Accept-Encoding: gzip,deflate)
// and read to the end of the connection.
func drive(b *testing.B, addr string, paths []string, kibana bool, conns int, d time.Duration) loadResult {
	b.Helper()
	cpu0 := selfCPU()
	reqs := make([][]byte, len(paths))
	for i, p := range paths {
		if kibana {
			reqs[i] = []byte("GET " + p + " HTTP/1.1\r\nHost: " + addr + "\r\nAccept: */*\r\nUser-Agent: node-fetch/1.0 (+https://github.com/bitinn/node-fetch)\r\nAccept-Encoding: gzip,deflate\r\nConnection: close\r\n\r\n")
		} else {
			reqs[i] = []byte("GET " + p + " HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: bench\r\n\r\n")
		}
	}
	var done atomic.Int64
	var failure atomic.Pointer[string]
	fail := func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		failure.CompareAndSwap(nil, &s)
	}
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var conn net.Conn
			// One reader per client, reset per connection: a new 64 KiB
			// buffer per Kibana request was the client's largest cost.
			br := bufio.NewReaderSize(nil, 64<<10)
			defer func() {
				if conn != nil {
					conn.Close()
				}
			}()
			for i := c; time.Now().Before(deadline) && failure.Load() == nil; i++ {
				if conn == nil {
					var err error
					if conn, err = net.Dial("tcp", addr); err != nil {
						fail("dial: %v", err)
						return
					}
					br.Reset(conn)
				}
				if _, err := conn.Write(reqs[i%len(reqs)]); err != nil {
					fail("write: %v", err)
					return
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					fail("read %s: %v", paths[i%len(paths)], err)
					return
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					fail("%s: %d %v", paths[i%len(paths)], resp.StatusCode, err)
					return
				}
				done.Add(1)
				if kibana || resp.Close {
					conn.Close()
					conn = nil
				}
			}
		}()
	}
	wg.Wait()
	if f := failure.Load(); f != nil {
		b.Fatalf("load on %s: %s", addr, *f)
	}
	n := float64(done.Load())
	return loadResult{rate: n / time.Since(start).Seconds(), n: n, clientCPU: selfCPU() - cpu0}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtRatios(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.1f", x)
	}
	return strings.Join(parts, ", ")
}

// floorOf drives a bare net/http server writing ours' answers for route in
// Kibana's way, -prod-rounds runs, and reports its rate and CPU per
// request (the test process's, which serves it; the emulator in it is
// idle by then).
func floorOf(b *testing.B, wrk string, withWrk bool, ours *serving, route route, name string) {
	b.Helper()
	f := startFloor(b, ours.addr, route.paths)
	var rates, cpus, clients []float64
	for range *prodRounds {
		c0 := selfCPU()
		var res loadResult
		if withWrk {
			res = driveWrk(b, wrk, f.addr, route.paths, true, *prodConns, *prodDuration)
		} else {
			res = drive(b, f.addr, route.paths, true, *prodConns, *prodDuration)
		}
		// Without wrk the client runs in this process too: the figure is
		// then the server's and the client's together.
		cpu := selfCPU() - c0
		rates = append(rates, res.rate)
		cpus = append(cpus, float64(cpu.Microseconds())/res.n)
		clients = append(clients, float64(res.clientCPU.Microseconds())/res.n)
	}
	b.ReportMetric(median(rates), name+"-bare-req/s")
	b.ReportMetric(median(cpus), name+"-bare-server-cpu-µs/req")
	b.Logf("%-16s %-9s bare net/http server writing ours' answers: %.1f req/s, %.1f CPU µs/request (client %.1f)",
		route.name, "kibana", median(rates), median(cpus), median(clients))
}
