package registry_test

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/publish/index"
	"pkgstore/internal/server"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/processtest"
	"pkgstore/internal/testkit/servertest"
)

// The "limit" of a route is a bare net/http handler writing the same
// response (status, headers, bytes) from memory: what any Go server on this
// machine could do for those bytes. BenchmarkVsLimit runs each route of the
// real store (servertest, the handler `serve` runs, metrics included) and
// its limit alternately in one run, over loopback with keep-alive clients,
// and reports both rates and the median ratio of the rounds, so that the
// ratio holds however busy the machine is.
//
//	go test ./internal/registry -run '^$' -bench 'VsLimit' -benchtime 4000x

// limitConcurrency is the number of client connections per side.
const limitConcurrency = 16

var limitTimeouts = flag.Bool("limit-timeouts", false, "give BenchmarkVsLimit's limit server serve's default timeouts (read-header, read, write, idle), to show what they cost")

var limitClient = flag.String("limit-client", "raw", "BenchmarkVsLimit's client: raw (in-process HTTP/1.1, 16 connections) or wrk (the wrk program, 32 connections, 1 s per round, as the issue measured)")

type limitRoute struct {
	name string
	// fleetSized serves the route from fleetSizedStore instead of the v1
	// sample's store.
	fleetSized bool
	urls       []string
	accept     string // Accept-Encoding sent to ours
	// limitAccept is sent to the limit's recording: "" compares with the
	// uncompressed bytes (the gain of compression), else the same bytes.
	limitAccept string
}

func BenchmarkVsLimit(b *testing.B) {
	f := v1Store(b)
	f.waitVisible(b)
	var pkgs []string
	for _, c := range f.published {
		pkgs = append(pkgs, "/package/"+c.id.Name+"/"+c.id.Version+"/")
	}
	// Fleet's listing query; the v1 sample (format 1.0.0) has no answer to
	// the spec.min/max variants.
	fleet := []string{"/search?prerelease=false&kibana.version=8.15.0"}
	routes := []limitRoute{
		{name: "search-fleet", urls: fleet},
		{name: "search-all", urls: []string{"/search?all=true&prerelease=true"}},
		{name: "categories", urls: []string{"/categories?include_policy_templates=true"}},
		{name: "package", urls: pkgs},
		{name: "search-fleet-gzip", urls: fleet, accept: "gzip", limitAccept: "gzip"},
		{name: "search-fleet-gzip-vs-identity", urls: fleet, accept: "gzip"},
		{name: "search-all-gzip-vs-identity", urls: []string{"/search?all=true&prerelease=true"}, accept: "gzip"},
		{name: "package-gzip-vs-identity", urls: pkgs, accept: "gzip"},
		{name: "search-fleet-br-vs-identity", urls: fleet, accept: "br"},
		// The workload: Fleet's listing of production's size.
		{name: "search-fleet286k", fleetSized: true, urls: fleet},
		{name: "search-fleet286k-gzip-vs-identity", fleetSized: true, urls: fleet, accept: "gzip"},
		{name: "search-fleet286k-br-vs-identity", fleetSized: true, urls: fleet, accept: "br"},
	}
	var fleetBase string
	for _, rt := range routes {
		b.Run(rt.name, func(b *testing.B) {
			base := f.store.URL
			if rt.fleetSized {
				if fleetBase == "" {
					fleetBase = fleetSizedStore(b, f, fleet[0], fleetAnswerBytes).URL
				}
				base = fleetBase
			}
			limit, size := recordLimit(b, base, rt.urls, rt.limitAccept)
			defer limit.Close()
			oursRate, limitRate, ratio := alternate(b, base, limit.URL, rt.urls, rt.accept, rt.limitAccept)
			b.ReportMetric(oursRate, "req/s")
			b.ReportMetric(limitRate, "limit-req/s")
			b.ReportMetric(ratio, "x-limit")
			b.ReportMetric(float64(size)/float64(len(rt.urls)), "limit-B/req")
		})
	}
}

// fleetAnswerBytes is the size of Fleet's listing in the issue's
// measurement (503 real packages: 286 KB).
const fleetAnswerBytes = 286_000

// fleetSizedStore serves, read-only through the whole serve handler, an
// index made from the v1 sample's documents: every revision of each v1
// package, then renamed copies (nginx_2, …), as many packages as make the
// answer to query about size bytes (estimated from the sample's own
// answer), so that Fleet's listing has the size it has in production
// rather than the sample's 75 KB.
func fleetSizedStore(tb testing.TB, v1 *fixture, query string, size int) *servertest.Store {
	ctx := context.Background()
	r := get(tb, v1.store.URL, "GET", query, nil)
	if r.Code != 200 || r.Body.Len() == 0 {
		tb.Fatalf("%s: %d, %d bytes", query, r.Code, r.Body.Len())
	}
	var names []string
	revs := map[string][]index.Entry{}
	for _, c := range v1.published {
		doc, err := v1.store.Server.Buckets.Internal.ReadAll(ctx, storage.DocumentKey(c.id))
		if err != nil {
			tb.Fatal(err)
		}
		if revs[c.id.Name] == nil {
			names = append(names, c.id.Name)
		}
		revs[c.id.Name] = append(revs[c.id.Name], index.Entry{ID: c.id, Manifest: doc})
	}
	// The sample's answer lists some of its names; copies keep that share.
	n := (size*len(names) + r.Body.Len() - 1) / r.Body.Len()
	s := &synthIndex{cursor: fmt.Sprintf("%020d", 101)}
	seen := 0
	for copyN := 1; seen < n; copyN++ {
		for _, name := range names {
			if seen == n {
				break
			}
			seen++
			nn := name
			if copyN > 1 {
				nn = fmt.Sprintf("%s_%d", name, copyN)
			}
			for _, e := range revs[name] {
				doc := bytes.ReplaceAll(e.Manifest, []byte("/package/"+name+"/"), []byte("/package/"+nn+"/"))
				doc = bytes.ReplaceAll(doc, []byte("/epr/"+name+"/"+name+"-"), []byte("/epr/"+nn+"/"+nn+"-"))
				doc = bytes.ReplaceAll(doc, []byte(`"name": "`+name+`"`), []byte(`"name": "`+nn+`"`))
				s.entries = append(s.entries, index.Entry{ID: packageid.ID{Name: nn, Version: e.ID.Version}, Manifest: doc})
			}
		}
	}
	dir := filepath.Join(processtest.Wrap(tb).TempDir(), "data")
	b, err := storage.Open(ctx, storage.Config{DataDir: dir})
	if err != nil {
		tb.Fatal(err)
	}
	s.b = b
	s.write(tb)
	b.Close()
	st := servertest.Start(processtest.Wrap(tb), servertest.Options{Data: dir, Configure: func(c *server.Config) {
		c.ReadOnly = true
		c.Registry.CacheTimes = testCacheTimes
		c.Registry.AllowUnknownQueryParams = true
	}})
	st.WaitVisible(tb, names[0]+"_2", revs[names[0]][0].ID.Version)
	tb.Logf("fleet-sized store: %d packages, %d revisions", seen, len(s.entries))
	if got := get(tb, st.URL, "GET", query, nil).Body.Len(); got < size*9/10 || got > size*11/10 {
		tb.Fatalf("%s answers %d bytes, want about %d", query, got, size)
	}
	return st
}

type recorded struct {
	code   int
	header http.Header
	body   []byte
}

// recordLimit fetches every url from the store once (as the client will
// ask for it) and serves the recorded answers from memory; it returns the
// server and the bytes of all the answers' bodies.
func recordLimit(b *testing.B, base string, urls []string, accept string) (*httptest.Server, int) {
	b.Helper()
	m := make(map[string]*recorded, len(urls))
	size := 0
	c := benchClient()
	// Each URL is fetched twice and the second answer recorded: the store
	// caches (and compresses at its best levels) a query's body from its
	// second request on, which is what the timed rounds get.
	for _, u := range append(slices.Clone(urls), urls...) {
		req, _ := http.NewRequest("GET", base+u, nil)
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("%s: %d %v", u, resp.StatusCode, err)
		}
		resp.Header.Del("Date")
		if prev := m[u]; prev != nil {
			size -= len(prev.body)
		}
		m[u] = &recorded{resp.StatusCode, resp.Header, body}
		size += len(body)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := m[r.URL.RequestURI()]
		h := w.Header()
		for k, v := range rec.header {
			h[k] = v
		}
		w.WriteHeader(rec.code)
		w.Write(rec.body)
	}))
	if *limitTimeouts {
		srv.Config.ReadHeaderTimeout = 10 * time.Second
		srv.Config.ReadTimeout = time.Minute
		srv.Config.WriteTimeout = 10 * time.Minute
		srv.Config.IdleTimeout = 2 * time.Minute
	}
	srv.Start()
	return srv, size
}

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DisableCompression: true, // count the bytes sent, do not decode them
	}}
}

// limitRounds is the number of alternations: short rounds, so that a
// change of load on the shared machine hits both sides alike.
const limitRounds = 16

// alternate sends b.N requests to each side, in limitRounds alternating
// rounds (which side goes first alternates too), and returns both rates in
// requests per second and the median of the rounds' ratios, which a burst
// of load from elsewhere during a few rounds cannot move.
func alternate(b *testing.B, ours, limit string, urls []string, accept, limitAccept string) (oursRate, limitRate, ratio float64) {
	if *limitClient == "wrk" {
		return alternateWrk(b, ours, limit, urls, accept, limitAccept)
	}
	co, cl := dialAll(b, ours), dialAll(b, limit)
	// Warm both: connections open, answers rendered and compressed.
	drive(b, co, urls, accept, 2*limitConcurrency)
	drive(b, cl, urls, limitAccept, 2*limitConcurrency)
	b.ResetTimer()
	var to, tl time.Duration
	ratios := make([]float64, 0, limitRounds)
	n := max((b.N+limitRounds-1)/limitRounds, limitConcurrency)
	for i := 0; i < limitRounds; i++ {
		var o, l time.Duration
		if i%2 == 0 {
			o = drive(b, co, urls, accept, n)
			l = drive(b, cl, urls, limitAccept, n)
		} else {
			l = drive(b, cl, urls, limitAccept, n)
			o = drive(b, co, urls, accept, n)
		}
		to += o
		tl += l
		ratios = append(ratios, l.Seconds()/o.Seconds())
	}
	slices.Sort(ratios)
	total := float64(n * limitRounds)
	return total / to.Seconds(), total / tl.Seconds(), (ratios[limitRounds/2-1] + ratios[limitRounds/2]) / 2
}

// drive sends n requests from limitConcurrency keep-alive connections,
// reading every body, and returns the wall time. It speaks HTTP/1.1 itself,
// as wrk does, rather than through net/http's client, so that the client's
// own cost (shared with the server on this machine) stays small and the
// server's shows.
func drive(b *testing.B, conns []*rawConn, urls []string, accept string, n int) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	start := time.Now()
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				if err := c.get(urls[int(i)%len(urls)], accept); err != nil {
					failed.Store(err.Error())
					return
				}
			}
		}()
	}
	wg.Wait()
	if v := failed.Load(); v != nil {
		b.Fatalf("%s: %v", conns[0].addr, v)
	}
	return time.Since(start)
}

// dialAll opens limitConcurrency connections to the server at base.
func dialAll(b *testing.B, base string) []*rawConn {
	addr := strings.TrimPrefix(base, "http://")
	conns := make([]*rawConn, limitConcurrency)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		conns[i] = &rawConn{addr: addr, c: c, r: bufio.NewReaderSize(c, 64<<10)}
		b.Cleanup(func() { c.Close() })
	}
	return conns
}

// rawConn is one keep-alive HTTP/1.1 connection.
type rawConn struct {
	addr string
	c    net.Conn
	r    *bufio.Reader
	req  []byte
}

// get sends GET url and reads the answer, which must be a 200 with a
// Content-Length (every answer the benchmark asks for has one).
func (c *rawConn) get(url, accept string) error {
	c.req = append(c.req[:0], "GET "...)
	c.req = append(c.req, url...)
	c.req = append(c.req, " HTTP/1.1\r\nHost: "...)
	c.req = append(c.req, c.addr...)
	c.req = append(c.req, "\r\nUser-Agent: limit-bench\r\n"...)
	if accept != "" {
		c.req = append(c.req, "Accept-Encoding: "...)
		c.req = append(c.req, accept...)
		c.req = append(c.req, "\r\n"...)
	}
	c.req = append(c.req, "\r\n"...)
	if _, err := c.c.Write(c.req); err != nil {
		return err
	}
	status, err := c.r.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 200 ")) {
		return fmt.Errorf("GET %s: %q", url, status)
	}
	length := -1
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(string(k), "Content-Length") {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(v))); err != nil {
				return err
			}
		}
	}
	if length < 0 {
		return fmt.Errorf("GET %s: no Content-Length", url)
	}
	_, err = c.r.Discard(length)
	return err
}

// alternateWrk is alternate with wrk as the client: limitRounds rounds of
// one second per side, 2 threads and 32 connections, every url in turn.
func alternateWrk(b *testing.B, ours, limit string, urls []string, accept, limitAccept string) (oursRate, limitRate, ratio float64) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("-limit-client=wrk: wrk is not installed")
	}
	script := func(accept string) string {
		var sb strings.Builder
		sb.WriteString("local paths = {")
		for _, u := range urls {
			fmt.Fprintf(&sb, "%q,", u)
		}
		sb.WriteString("}\nlocal i = 0\nlocal headers = {}\n")
		if accept != "" {
			fmt.Fprintf(&sb, "headers[\"Accept-Encoding\"] = %q\n", accept)
		}
		sb.WriteString("request = function()\n  i = i + 1\n  return wrk.format(\"GET\", paths[(i % #paths) + 1], headers)\nend\n")
		f := filepath.Join(b.TempDir(), "requests.lua")
		if err := os.WriteFile(f, []byte(sb.String()), 0o644); err != nil {
			b.Fatal(err)
		}
		return f
	}
	oursScript, limitScript := script(accept), script(limitAccept)
	run := func(base, script string) float64 {
		out, err := exec.Command(wrk, "-t2", "-c32", "-d1s", "-s", script, base).CombinedOutput()
		if err != nil {
			b.Fatalf("wrk: %v\n%s", err, out)
		}
		if bytes.Contains(out, []byte("Non-2xx")) {
			b.Fatalf("wrk saw errors:\n%s", out)
		}
		m := regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`).FindSubmatch(out)
		if m == nil {
			b.Fatalf("wrk output:\n%s", out)
		}
		rate, _ := strconv.ParseFloat(string(m[1]), 64)
		return rate
	}
	run(ours, oursScript) // warm
	b.ResetTimer()
	ratios := make([]float64, 0, limitRounds)
	for i := 0; i < limitRounds; i++ {
		var o, l float64
		if i%2 == 0 {
			o, l = run(ours, oursScript), run(limit, limitScript)
		} else {
			l, o = run(limit, limitScript), run(ours, oursScript)
		}
		oursRate += o / limitRounds
		limitRate += l / limitRounds
		ratios = append(ratios, o/l)
	}
	slices.Sort(ratios)
	return oursRate, limitRate, (ratios[limitRounds/2-1] + ratios[limitRounds/2]) / 2
}
