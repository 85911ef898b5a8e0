package proxy_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pkgstore/internal/client"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/registry"
	"pkgstore/internal/server"
	"pkgstore/internal/testkit/hostiletest"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
)

// startFailFast runs a proxy of upstream with short failure bounds and
// localRevs published, edit tuning its proxy config.
func startFailFast(t testing.TB, key *sigtest.Key, upstream string, cache bool, edit func(*server.ProxyConfig)) *servertest.Store {
	t.Helper()
	s := servertest.Start(t, servertest.Options{Key: key, Configure: func(c *server.Config) {
		c.Proxy = server.ProxyConfig{Upstream: upstream, Cache: cache, Retry: client.Retry{Attempts: 4, Backoff: 50 * time.Millisecond},
			Timeout: 400 * time.Millisecond, MaxFails: 2, FailTimeout: time.Minute}
		if edit != nil {
			edit(&c.Proxy)
		}
	}})
	for _, r := range localRevs {
		id := packageid.ID{Name: r.name, Version: r.version}
		if sub := s.Publish(t, id.ZipName(), zipOf(t, r), client.Options{Legacy: true}); sub.Status != "published" {
			t.Fatalf("publish %s: %+v", id, sub)
		}
	}
	for _, r := range localRevs {
		waitLocal(t, s, packageid.ID{Name: r.name, Version: r.version})
	}
	return s
}

type timed struct {
	answer
	warning []string
	age     string
	etag    string
	took    time.Duration
}

func fetchTimed(t testing.TB, base, path string) timed {
	t.Helper()
	start := time.Now()
	resp, err := noRedirect.Get(base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	took := time.Since(start)
	return timed{answer{resp.StatusCode, b, resp.Header.Get("Location"), resp.Header.Get("Content-Type"), strings.Join(resp.Header.Values("Cache-Control"), ", ")},
		resp.Header.Values("Warning"), resp.Header.Get("Age"), resp.Header.Get("ETag"), took}
}

func verboseHealth(t testing.TB, base string) (int, registry.Health) {
	t.Helper()
	resp, err := http.Get(base + "/health?verbose=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h registry.Health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, h
}

func scrape(t testing.TB, s *servertest.Store) string {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Server.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}

// TestUpstreamDownFailsFast: an upstream that hangs, refuses, resets,
// answers 500 or drips costs at most Timeout per request until MaxFails
// failures open the circuit; then /search and /categories answer from
// local data in under 200 ms with a Warning, the upstream is not asked,
// a revision the store lacks answers 502 (504 after timeouts), never
// 404, and /health stays 200, "degraded" in verbose.
func TestUpstreamDownFailsFast(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	real := startOurs(t, key, "", false, upstreamRevs)
	for _, tt := range []struct {
		name    string
		mode    hostiletest.Mode
		refused bool
		code    int
	}{
		{"hangs", hostiletest.Hang, false, http.StatusGatewayTimeout},
		{"drips", hostiletest.Drip, false, http.StatusGatewayTimeout},
		{"answers 500", hostiletest.Fail500, false, http.StatusBadGateway},
		{"resets", hostiletest.Reset, false, http.StatusBadGateway},
		{"refuses", 0, true, http.StatusBadGateway},
	} {
		for _, cache := range []bool{false, true} {
			t.Run(tt.name+" cache="+strconv.FormatBool(cache), func(t *testing.T) {
				flaky := hostiletest.StartFlaky(t, real.URL)
				up := flaky.URL
				if tt.refused {
					up = hostiletest.RefusingURL(t)
				}
				s := startFailFast(t, key, up, cache, nil)
				flaky.Set(tt.mode)
				// Before the circuit opens: bounded by Timeout (400 ms), retries included.
				for _, p := range []string{"/search", "/package/remoteonly/2.0.0/"} {
					a := fetchTimed(t, s.URL, p)
					if a.took > 2*time.Second {
						t.Errorf("%s with the circuit closed took %s, want about the 400 ms timeout", p, a.took)
					}
					if len(a.warning) == 0 || !strings.Contains(a.warning[0], `111 pkgstore "upstream unreachable`) {
						t.Errorf("%s: Warning %q", p, a.warning)
					}
				}
				if code, h := verboseHealth(t, s.URL); code != 200 || h.Status != registry.StatusDegraded || h.Upstream == nil || h.Upstream.State != "open" {
					t.Fatalf("after 2 failures: /health?verbose=true %d %+v %+v, want 200, degraded, circuit open", code, h, h.Upstream)
				}
				if a := fetch(t, s.URL, "/health"); a.status != 200 {
					t.Errorf("/health with a down upstream and local data: %d %s", a.status, a.body)
				}
				if m := scrape(t, s); !strings.Contains(m, "pkgstore_proxy_upstream_circuit_state 1\n") || !strings.Contains(m, "pkgstore_proxy_circuit_opens_total 1\n") {
					t.Errorf("metrics do not show the open circuit:\n%s", grepLines(m, "pkgstore_proxy"))
				}
				asked := flaky.All()
				// Local answers take well under a millisecond on loopback; on
				// a CI machine running every package's tests at once a
				// request can wait for a core, so: most under 200 ms, and
				// none anywhere near the upstream timeout (3 s) it no longer
				// waits for.
				slow := 0
				for i := range 50 {
					a := fetchTimed(t, s.URL, "/search?all=true")
					if a.took >= 200*time.Millisecond {
						slow++
					}
					if slow > 5 || a.took >= time.Second || a.status != 200 || len(a.warning) != 1 || !strings.HasPrefix(a.warning[0], `111 pkgstore "upstream unreachable: circuit open`) {
						t.Fatalf("search %d with the circuit open: %d in %s (%d of them over 200 ms), Warning %q", i, a.status, a.took, slow, a.warning)
					}
					if a.caching != "no-store" || a.etag != "" {
						t.Fatalf("search %d with the circuit open: Cache-Control %q, ETag %q; a degraded answer must not be kept", i, a.caching, a.etag)
					}
					if !bytes.Contains(a.body, []byte(`"name": "localonly"`)) || bytes.Contains(a.body, []byte(`"name": "remoteonly"`)) {
						t.Fatalf("search with the circuit open is not the local answer:\n%s", a.body)
					}
				}
				if a := fetchTimed(t, s.URL, "/categories"); a.took >= time.Second || a.status != 200 || len(a.warning) != 1 || a.caching != "no-store" {
					t.Errorf("categories with the circuit open: %d in %s, Warning %q, Cache-Control %q", a.status, a.took, a.warning, a.caching)
				}
				for _, p := range []string{"/package/remoteonly/2.0.0/", "/epr/remoteonly/remoteonly-2.0.0.zip", "/epr/remoteonly/remoteonly-2.0.0.zip.sig", "/package/remoteonly/2.0.0/docs/README.md"} {
					a := fetchTimed(t, s.URL, p)
					if a.status != tt.code || a.took >= time.Second || len(a.warning) != 1 || a.caching != "no-store" {
						t.Errorf("uncached %s with the circuit open: %d in %s, Warning %q, Cache-Control %q; want %d at once", p, a.status, a.took, a.warning, a.caching, tt.code)
					}
				}
				if a := fetch(t, s.URL, "/package/localonly/1.0.0/"); a.status != 200 {
					t.Errorf("a local revision with the circuit open: %d", a.status)
				}
				if n := flaky.All(); n != asked {
					t.Errorf("the upstream was asked %d times with the circuit open", n-asked)
				}
			})
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestCircuitProbesOnce: once FailTimeout passes, 20 concurrent requests
// let one probe through to the upstream, not 20; a failed probe opens
// the circuit again for FailTimeout; a probe that succeeds closes it and
// the answers are merged again, without Warning.
func TestCircuitProbesOnce(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	real := startOurs(t, key, "", false, upstreamRevs)
	flaky := hostiletest.StartFlaky(t, real.URL)
	const window = 700 * time.Millisecond
	s := startFailFast(t, key, flaky.URL, false, func(pc *server.ProxyConfig) {
		pc.MaxFails, pc.FailTimeout, pc.Timeout = 1, window, 300*time.Millisecond
	})
	flaky.Set(hostiletest.Hang)
	fetch(t, s.URL, "/search") // opens the circuit
	opened := time.Now()
	for round := range 3 {
		before := flaky.Hits("/search")
		time.Sleep(time.Until(opened.Add(window + 50*time.Millisecond)))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				resp, err := http.Get(s.URL + "/search")
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 || resp.Header.Get("Warning") == "" {
					t.Errorf("round %d: %d, Warning %q", round, resp.StatusCode, resp.Header.Get("Warning"))
				}
			}()
		}
		close(start)
		wg.Wait()
		opened = time.Now() // the probe's failure reopened the circuit, at the latest now
		if n := flaky.Hits("/search") - before; n != 1 {
			t.Fatalf("round %d: the upstream saw %d requests in one fail_timeout window under 20 concurrent requests, want 1 probe", round, n)
		}
	}
	if m := scrape(t, s); !strings.Contains(m, "pkgstore_proxy_circuit_probes_total 3\n") {
		t.Errorf("metrics do not count 3 probes:\n%s", grepLines(m, "pkgstore_proxy"))
	}

	flaky.Set(hostiletest.Healthy)
	time.Sleep(time.Until(opened.Add(window + 50*time.Millisecond)))
	a := fetchTimed(t, s.URL, "/search")
	if a.status != 200 || len(a.warning) != 0 || !bytes.Contains(a.body, []byte(`"name": "remoteonly"`)) {
		t.Fatalf("the upstream back: %d, Warning %q, body:\n%s", a.status, a.warning, a.body)
	}
	if _, h := verboseHealth(t, s.URL); h.Status != "ok" || h.Upstream == nil || h.Upstream.State != "closed" {
		t.Errorf("health with the upstream back: %+v %+v", h, h.Upstream)
	}
	if a := fetch(t, s.URL, "/package/remoteonly/2.0.0/"); a.status != 200 {
		t.Errorf("upstream revision with the upstream back: %d", a.status)
	}
	if a := fetch(t, s.URL, "/package/nothing/1.0.0/"); a.status != http.StatusNotFound {
		t.Errorf("a revision a healthy upstream lacks: %d, want its 404", a.status)
	}
}

// TestStaleIfError: a pull-through cache whose upstream errors answers
// /search and /categories with the upstream's last good answer merged in:
// byte-identical to the last good answer, with Age and Warning 110; a
// query never answered upstream has the local answer and Warning 111.
func TestStaleIfError(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	real := startOurs(t, key, "", false, upstreamRevs)
	flaky := hostiletest.StartFlaky(t, real.URL)
	s := startFailFast(t, key, flaky.URL, true, nil)
	paths := []string{"/search?all=true", "/search?kibana.version=8.5.0", "/categories"}
	good := map[string]timed{}
	for _, p := range paths {
		a := fetchTimed(t, s.URL, p)
		if a.status != 200 || len(a.warning) != 0 || a.age != "" {
			t.Fatalf("%s with a healthy upstream: %d, Warning %q, Age %q", p, a.status, a.warning, a.age)
		}
		if !strings.Contains(a.caching, "max-age=") || a.etag != "" {
			// A merged answer is cacheable, and carries no validator of the
			// local answer it was merged from.
			t.Errorf("%s with a healthy upstream: Cache-Control %q, ETag %q", p, a.caching, a.etag)
		}
		good[p] = a
	}
	if !bytes.Contains(good["/search?all=true"].body, []byte(`"name": "remoteonly"`)) {
		t.Fatalf("merged search lacks the upstream's revision:\n%s", good["/search?all=true"].body)
	}
	flaky.Set(hostiletest.Fail500)
	time.Sleep(1100 * time.Millisecond) // Age counts seconds
	for i := range 4 {                  // before and after the circuit opens (MaxFails 2)
		for _, p := range paths {
			a := fetchTimed(t, s.URL, p)
			if a.status != 200 || !bytes.Equal(a.body, good[p].body) || a.caching != "no-store" || a.ctype != good[p].ctype {
				t.Fatalf("try %d, %s with an upstream that errors: %d %q %q, body\n%s\nwant the last good answer\n%s", i, p, a.status, a.caching, a.ctype, a.body, good[p].body)
			}
			if age, err := strconv.Atoi(a.age); err != nil || age < 1 || age > 60 {
				t.Errorf("try %d, %s: Age %q", i, p, a.age)
			}
			if len(a.warning) != 2 || !strings.HasPrefix(a.warning[0], `110 pkgstore "Response is Stale"`) || !strings.HasPrefix(a.warning[1], `111 pkgstore "Revalidation Failed: upstream unreachable`) {
				t.Errorf("try %d, %s: Warning %q", i, p, a.warning)
			}
		}
	}
	a := fetchTimed(t, s.URL, "/search?package=beta")
	if a.status != 200 || a.age != "" || len(a.warning) != 1 || !strings.HasPrefix(a.warning[0], "111 ") || a.caching != "no-store" || !bytes.Contains(a.body, []byte(`"version": "0.5.0"`)) {
		t.Errorf("a query never answered upstream: %d, Age %q, Warning %q:\n%s", a.status, a.age, a.warning, a.body)
	}
	if _, h := verboseHealth(t, s.URL); h.Upstream == nil || h.Upstream.StaleAnswers != 3 || h.Upstream.StaleBytes <= 0 {
		t.Errorf("health does not count the 3 answers kept: %+v", h.Upstream)
	}
	if m := scrape(t, s); !strings.Contains(m, `pkgstore_proxy_degraded_answers_total{kind="stale"} 12`) {
		t.Errorf("metrics do not count 12 stale answers:\n%s", grepLines(m, "pkgstore_proxy"))
	}
}

// TestStaleIfErrorBounded: with --proxy-stale-max-bytes below an answer,
// nothing is kept: the local answer, Warning 111, no Age.
func TestStaleIfErrorBounded(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	real := startOurs(t, key, "", false, upstreamRevs)
	flaky := hostiletest.StartFlaky(t, real.URL)
	s := startFailFast(t, key, flaky.URL, true, func(pc *server.ProxyConfig) { pc.StaleMaxBytes = 100 })
	if a := fetch(t, s.URL, "/search?all=true"); a.status != 200 {
		t.Fatal(a.status)
	}
	flaky.Set(hostiletest.Fail500)
	a := fetchTimed(t, s.URL, "/search?all=true")
	if a.status != 200 || a.age != "" || len(a.warning) != 1 || bytes.Contains(a.body, []byte(`"name": "remoteonly"`)) {
		t.Errorf("an answer over the bound was kept: %d, Age %q, Warning %q", a.status, a.age, a.warning)
	}
}

// TestUpstreamRefusalKeepsCircuitClosed: an upstream that answers 400 is
// up; the request fails (local answer, Warning; 502 for a revision) but
// the circuit stays closed: a client cannot open it for everyone with
// queries the upstream rejects.
func TestUpstreamRefusalKeepsCircuitClosed(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	real := startOurs(t, key, "", false, upstreamRevs)
	flaky := hostiletest.StartFlaky(t, real.URL)
	s := startFailFast(t, key, flaky.URL, false, nil)
	flaky.Set(hostiletest.Fail400)
	for i := range 5 {
		if a := fetchTimed(t, s.URL, "/search?package=x"); a.status != 200 || len(a.warning) != 1 {
			t.Fatalf("search %d refused upstream: %d, Warning %q", i, a.status, a.warning)
		}
		if a := fetch(t, s.URL, "/package/remoteonly/2.0.0/"); a.status != http.StatusBadGateway {
			t.Fatalf("revision %d refused upstream: %d", i, a.status)
		}
	}
	if _, h := verboseHealth(t, s.URL); h.Status != "ok" || h.Upstream == nil || h.Upstream.State != "closed" {
		t.Fatalf("after 10 refusals: %+v %+v, want the circuit closed", h, h.Upstream)
	}
	asked := flaky.All()
	flaky.Set(hostiletest.Healthy)
	if a := fetchTimed(t, s.URL, "/search"); a.status != 200 || len(a.warning) != 0 || flaky.All() == asked {
		t.Errorf("next request: %d, Warning %q, upstream asked %v", a.status, a.warning, flaky.All() != asked)
	}
}
