package registry_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The "limit" of a route is a bare net/http handler writing the same
// response (status, headers, bytes) from memory: what any Go server on this
// machine could do for those bytes. BenchmarkVsLimit runs each route of the
// real store (servertest, the handler `serve` runs, metrics included) and
// its limit alternately in one run, over loopback with keep-alive clients,
// and reports both rates and their ratio, so that the ratio holds however
// busy the machine is.
//
//	go test ./internal/registry -run '^$' -bench 'VsLimit' -benchtime 4000x

// limitConcurrency is the number of client connections per side.
const limitConcurrency = 16

type limitRoute struct {
	name   string
	urls   []string
	accept string // Accept-Encoding sent to ours
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
	}
	for _, rt := range routes {
		b.Run(rt.name, func(b *testing.B) {
			limit := recordLimit(b, f.store.URL, rt.urls, rt.limitAccept)
			defer limit.Close()
			oursRate, limitRate := alternate(b, f.store.URL, limit.URL, rt.urls, rt.accept, rt.limitAccept)
			b.ReportMetric(oursRate, "req/s")
			b.ReportMetric(limitRate, "limit-req/s")
			b.ReportMetric(oursRate/limitRate, "x-limit")
		})
	}
}

type recorded struct {
	code   int
	header http.Header
	body   []byte
}

// recordLimit fetches every url from the store once (as the client will
// ask for it) and serves the recorded answers from memory.
func recordLimit(b *testing.B, base string, urls []string, accept string) *httptest.Server {
	b.Helper()
	m := make(map[string]*recorded, len(urls))
	c := benchClient()
	for _, u := range urls {
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
		m[u] = &recorded{resp.StatusCode, resp.Header, body}
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := m[r.URL.RequestURI()]
		h := w.Header()
		for k, v := range rec.header {
			h[k] = v
		}
		w.WriteHeader(rec.code)
		w.Write(rec.body)
	}))
}

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DisableCompression:  true, // count the bytes sent, do not decode them
		MaxIdleConnsPerHost: limitConcurrency,
	}}
}

// alternate sends b.N requests to each side, in four alternating rounds,
// and returns both rates in requests per second.
func alternate(b *testing.B, ours, limit string, urls []string, accept, limitAccept string) (float64, float64) {
	co, cl := benchClient(), benchClient()
	defer co.CloseIdleConnections()
	defer cl.CloseIdleConnections()
	// Warm both: connections open, answers rendered and compressed.
	drive(b, co, ours, urls, accept, 2*limitConcurrency)
	drive(b, cl, limit, urls, limitAccept, 2*limitConcurrency)
	b.ResetTimer()
	var to, tl time.Duration
	const rounds = 4
	for i := 0; i < rounds; i++ {
		n := (b.N + rounds - 1) / rounds
		to += drive(b, co, ours, urls, accept, n)
		tl += drive(b, cl, limit, urls, limitAccept, n)
	}
	n := float64((b.N + rounds - 1) / rounds * rounds)
	return n / to.Seconds(), n / tl.Seconds()
}

// drive sends n requests from limitConcurrency clients, reading every body,
// and returns the wall time.
func drive(b *testing.B, c *http.Client, base string, urls []string, accept string, n int) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	start := time.Now()
	for g := 0; g < limitConcurrency; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				req, _ := http.NewRequest("GET", base+urls[int(i)%len(urls)], nil)
				if accept != "" {
					req.Header.Set("Accept-Encoding", accept)
				}
				resp, err := c.Do(req)
				if err != nil {
					failed.Store(err.Error())
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Store(resp.Status)
					return
				}
			}
		}()
	}
	wg.Wait()
	if v := failed.Load(); v != nil {
		b.Fatalf("%s: %v", base, v)
	}
	return time.Since(start)
}
