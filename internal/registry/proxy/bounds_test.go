package proxy_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"pkgstore/internal/client"
	"pkgstore/internal/govern/audit"
	"pkgstore/internal/govern/yank"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/server"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/hostiletest"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
)

var big = packageid.ID{Name: "big", Version: "1.0.0"}

// startCache runs a pull-through cache of upstream whose downloads go to
// a temporary folder of their own, returned with it.
func startCache(t testing.TB, key *sigtest.Key, upstream string, maxUpload int64, edit func(*server.ProxyConfig)) (*servertest.Store, string) {
	t.Helper()
	tmp := t.TempDir()
	s := servertest.Start(t, servertest.Options{Key: key, Configure: func(c *server.Config) {
		c.MaxUploadSize = maxUpload
		c.Proxy = server.ProxyConfig{Upstream: upstream, Cache: true, Retry: client.Retry{Attempts: 2, Backoff: 10 * time.Millisecond}, TempDir: tmp}
		if edit != nil {
			edit(&c.Proxy)
		}
	}})
	return s, tmp
}

// getCtx GETs path without following redirects, with ctx.
func getCtx(ctx context.Context, base, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := noRedirect.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	return resp, err
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestProxyCacheEndlessUpstream: a zip that never ends (or says it is
// 1 TiB) costs the cache at most its zip size limit on disk, then the
// client is sent upstream; nothing is left behind.
func TestProxyCacheEndlessUpstream(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	const limit = 8 << 20
	for _, z := range []hostiletest.Zip{hostiletest.Endless, hostiletest.Huge} {
		up := hostiletest.Start(t, hostiletest.Options{Key: key, Revisions: []packageid.ID{big}, Zip: z})
		s, tmp := startCache(t, key, up.URL, limit, nil)
		stop := hostiletest.Watch(tmp)
		start := time.Now()
		a := fetch(t, s.URL, "/epr/big/big-1.0.0.zip")
		took := time.Since(start)
		peak := stop()
		t.Logf("zip %d: %d %s in %s; upstream sent %d bytes; peak %d bytes on disk", z, a.status, a.location, took.Round(time.Millisecond), up.Sent(), peak)
		if a.status != http.StatusMovedPermanently {
			t.Errorf("answer %d, want the 301 upstream", a.status)
		}
		if peak > limit+1 {
			t.Errorf("peak %d bytes of temporary space, over the %d-byte limit", peak, limit)
		}
		if took > 20*time.Second {
			t.Errorf("took %s", took)
		}
		if !up.WaitIdle(5 * time.Second) {
			t.Errorf("the upstream still sends (%d bytes)", up.Sent())
		}
		if n := hostiletest.DirSize(tmp); n != 0 {
			t.Errorf("%d bytes left behind", n)
		}
		if s.Server.Registry.Serves(big) {
			t.Error("the endless revision is served")
		}
	}
}

// TestProxyCacheEndlessUpstreamAtDefaultLimit: the same at the default
// limits (the store's 251 MB upload limit): under 300 MB on disk.
func TestProxyCacheEndlessUpstreamAtDefaultLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 251 MB")
	}
	key := sigtest.NewKey(t, "upstream")
	up := hostiletest.Start(t, hostiletest.Options{Key: key, Revisions: []packageid.ID{big}})
	s, tmp := startCache(t, key, up.URL, 0, nil)
	stop := hostiletest.Watch(tmp)
	start := time.Now()
	a := fetch(t, s.URL, "/epr/big/big-1.0.0.zip")
	took := time.Since(start)
	peak := stop()
	t.Logf("%d in %s; upstream sent %d bytes; peak %d bytes on disk", a.status, took.Round(time.Millisecond), up.Sent(), peak)
	if peak >= 300<<20 || peak == 0 {
		t.Errorf("peak %d bytes on disk, want under 300 MB", peak)
	}
	if !up.WaitIdle(5*time.Second) || hostiletest.DirSize(tmp) != 0 {
		t.Errorf("upstream still sending or bytes left behind")
	}
}

// TestProxyCacheGarbageSignature: a signature that is not one is refused
// before the zip is asked for.
func TestProxyCacheGarbageSignature(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	up := hostiletest.Start(t, hostiletest.Options{Key: key, Revisions: []packageid.ID{big}, GarbageSig: true})
	s, _ := startCache(t, key, up.URL, 8<<20, nil)
	start := time.Now()
	a := fetch(t, s.URL, "/epr/big/big-1.0.0.zip")
	if a.status != http.StatusMovedPermanently || time.Since(start) > 5*time.Second {
		t.Errorf("answer %d after %s, want the 301 upstream at once", a.status, time.Since(start))
	}
	if n := up.Asked("/epr/big/big-1.0.0.zip"); n != 0 || up.Sent() != 0 {
		t.Errorf("the zip was asked for %d times (%d bytes) after a garbage signature", n, up.Sent())
	}
}

// TestProxyCacheSlowDrip: an upstream that drips is cut by the minimum
// rate, and a pull never outlasts PullTimeout.
func TestProxyCacheSlowDrip(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	for _, c := range []struct {
		name string
		rate int64
		edit func(*server.ProxyConfig)
	}{
		{"below the minimum rate", 1 << 10, func(p *server.ProxyConfig) { p.MinRate, p.StallWindow = 64<<10, 300*time.Millisecond }},
		{"over the pull timeout", 512 << 10, func(p *server.ProxyConfig) { p.MinRate, p.PullTimeout = -1, 1500*time.Millisecond }},
	} {
		t.Run(c.name, func(t *testing.T) {
			up := hostiletest.Start(t, hostiletest.Options{Key: key, Revisions: []packageid.ID{big}, Rate: c.rate})
			s, tmp := startCache(t, key, up.URL, 1<<30, c.edit)
			start := time.Now()
			a := fetch(t, s.URL, "/epr/big/big-1.0.0.zip")
			took := time.Since(start)
			t.Logf("%d after %s, upstream sent %d bytes", a.status, took.Round(time.Millisecond), up.Sent())
			if a.status != http.StatusMovedPermanently || took > 10*time.Second {
				t.Errorf("answer %d after %s, want the 301 upstream within 10 s", a.status, took)
			}
			if !up.WaitIdle(5*time.Second) || hostiletest.DirSize(tmp) != 0 {
				t.Errorf("upstream still sending or bytes left behind")
			}
		})
	}
}

// TestProxyCacheClientLeaves: the pull stops soon after its only client
// leaves; with two clients on one revision there is one download, which
// goes on while one of them waits and stops when the last leaves.
func TestProxyCacheClientLeaves(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	up := hostiletest.Start(t, hostiletest.Options{Key: key, Revisions: []packageid.ID{big}, Rate: 256 << 10})
	s, tmp := startCache(t, key, up.URL, 1<<30, func(p *server.ProxyConfig) { p.MinRate = -1 })
	path := "/epr/big/big-1.0.0.zip"

	request := func() (context.CancelFunc, chan struct{}) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			getCtx(ctx, s.URL, path)
		}()
		return cancel, done
	}
	// One client.
	cancel, done := request()
	waitFor(t, 10*time.Second, "the upstream sends", func() bool { return up.Active() == 1 && up.Sent() > 0 })
	cancel()
	<-done
	left := time.Now()
	if !up.WaitIdle(5 * time.Second) {
		t.Fatalf("the pull goes on 5 s after its only client left (%d bytes sent)", up.Sent())
	}
	t.Logf("one client: the upstream stopped %s after the client left", up.LastEnd().Sub(left).Round(time.Millisecond))
	waitFor(t, 5*time.Second, "the temporary file is removed", func() bool { return hostiletest.DirSize(tmp) == 0 })

	// Two clients share one download.
	asked := up.Asked(path)
	cancelA, doneA := request()
	waitFor(t, 10*time.Second, "the upstream sends", func() bool { return up.Active() == 1 })
	cancelB, doneB := request()
	time.Sleep(300 * time.Millisecond)
	if n := up.Asked(path) - asked; n != 1 {
		t.Fatalf("two clients of one revision: %d downloads, want 1", n)
	}
	cancelA()
	<-doneA
	time.Sleep(time.Second)
	if up.Active() != 1 {
		t.Fatal("the download stopped when one of its two clients left")
	}
	cancelB()
	<-doneB
	left = time.Now()
	if !up.WaitIdle(5 * time.Second) {
		t.Fatalf("the pull goes on 5 s after its last client left")
	}
	t.Logf("two clients: the upstream stopped %s after the last client left", up.LastEnd().Sub(left).Round(time.Millisecond))
	if n := up.Asked(path) - asked; n != 1 {
		t.Errorf("%d downloads, want 1", n)
	}
}

// TestProxyCacheConcurrencyCap: downloads at once are bounded in all, per
// client, and by the temporary space: beyond, 503 with Retry-After after
// a bounded wait.
func TestProxyCacheConcurrencyCap(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	revs := []packageid.ID{{Name: "big", Version: "1.0.0"}, {Name: "big", Version: "1.0.1"}, {Name: "big", Version: "1.0.2"}}
	const limit = 8 << 20
	for _, c := range []struct {
		name string
		busy int // the request that is refused (0-based)
		edit func(*server.ProxyConfig)
	}{
		{"in all", 2, func(p *server.ProxyConfig) { p.MaxPulls, p.MaxPullsPerClient, p.TempBytes = 2, 10, 1<<30 }},
		{"per client", 1, func(p *server.ProxyConfig) { p.MaxPulls, p.MaxPullsPerClient, p.TempBytes = 10, 1, 1<<30 }},
		{"temporary space", 1, func(p *server.ProxyConfig) { p.MaxPulls, p.MaxPullsPerClient = 10, 10 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			up := hostiletest.Start(t, hostiletest.Options{Key: key, Revisions: revs, Rate: 64 << 10})
			s, tmp := startCache(t, key, up.URL, limit, func(p *server.ProxyConfig) {
				p.MinRate, p.BusyWait = -1, 300*time.Millisecond
				c.edit(p)
			})
			stop := hostiletest.Watch(tmp)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			defer func() { cancel(); wg.Wait() }()
			for i := range c.busy {
				wg.Go(func() { getCtx(ctx, s.URL, "/epr/big/"+revs[i].ZipName()) })
				waitFor(t, 10*time.Second, "the upstream sends", func() bool { return up.Active() == int64(i+1) })
			}
			start := time.Now()
			resp, err := getCtx(context.Background(), s.URL, "/epr/big/"+revs[c.busy].ZipName())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d %q after %s", resp.StatusCode, resp.Header.Get("Retry-After"), time.Since(start).Round(time.Millisecond))
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || time.Since(start) > 5*time.Second {
				t.Errorf("request %d: %d (Retry-After %q) after %s, want 503 with Retry-After within 5 s", c.busy+1, resp.StatusCode, resp.Header.Get("Retry-After"), time.Since(start))
			}
			// The refused one may have had its answer's headers (the
			// temporary space is reserved from its Content-Length): it
			// ends with the refusal.
			waitFor(t, 5*time.Second, "only the admitted downloads go on", func() bool { return up.Active() == int64(c.busy) })
			cancel()
			wg.Wait()
			if peak := stop(); c.name == "temporary space" && peak > limit+1 {
				t.Errorf("peak %d bytes of temporary space", peak)
			}
			if !up.WaitIdle(5 * time.Second) {
				t.Error("downloads go on after their clients left")
			}
		})
	}
}

// countingRelay is a reverse proxy in front of an upstream that counts
// the GETs of each path.
type countingRelay struct {
	URL   string
	mu    sync.Mutex
	asked map[string]int
}

func relayTo(t testing.TB, upstream string) *countingRelay {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	r := &countingRelay{asked: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.asked[req.URL.Path]++
		r.mu.Unlock()
		rp.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (r *countingRelay) count(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.asked[path]
}

// records counts the objects of the internal bucket under prefix.
func records(t testing.TB, s *servertest.Store, prefix string) int {
	t.Helper()
	objs, err := s.Server.Buckets.Internal.ListAll(context.Background(), &storage.ListOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return len(objs)
}

// TestProxyCacheYanked: a revision the cache kept and the site yanked is
// served locally like any yanked revision (pinned URLs work, PEP 592),
// never pulled or published again, and left out of the merged /search.
func TestProxyCacheYanked(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	up := startOurs(t, key, "", false, upstreamRevs)
	rl := relayTo(t, up.URL)
	s := startOurs(t, key, rl.URL, true, localRevs)
	id := packageid.ID{Name: "alpha", Version: "1.0.0"}
	_, want := up.Get(t, "/epr/alpha/alpha-1.0.0.zip")
	if a := fetch(t, s.URL, "/epr/alpha/alpha-1.0.0.zip"); a.status != 200 || !bytes.Equal(a.body, want) {
		t.Fatalf("first pull: %d", a.status)
	}
	if _, _, err := s.Server.Yanks.Set(context.Background(), yank.Change{ID: id, Yank: true, Reason: "broken"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the yank reaches the registry", func() bool { return !s.Server.Registry.Has(id) && s.Server.Registry.Serves(id) })

	subs, audits := records(t, s, storage.SubmissionsPrefix), records(t, s, audit.Prefix)
	zips, docs := rl.count("/epr/alpha/alpha-1.0.0.zip"), rl.count("/package/alpha/1.0.0/")
	for i := range 3 {
		start := time.Now()
		a := fetch(t, s.URL, "/epr/alpha/alpha-1.0.0.zip")
		took := time.Since(start)
		t.Logf("pull %d of the yanked revision: %d in %s", i+1, a.status, took.Round(time.Microsecond))
		if a.status != 200 || !bytes.Equal(a.body, want) || took > 5*time.Second {
			t.Errorf("pull %d: %d %q after %s, want the local zip within 5 s", i+1, a.status, a.location, took)
		}
	}
	if a := fetch(t, s.URL, "/package/alpha/1.0.0/"); a.status != 200 || !strings.Contains(string(a.body), `"version": "1.0.0"`) {
		t.Errorf("document of the yanked revision: %d %s", a.status, a.body)
	}
	if a := fetch(t, s.URL, "/epr/alpha/alpha-1.0.0.zip.sig"); a.status != 200 {
		t.Errorf("signature of the yanked revision: %d", a.status)
	}
	if n, m := records(t, s, storage.SubmissionsPrefix), records(t, s, audit.Prefix); n != subs || m != audits {
		t.Errorf("pulls of a yanked revision wrote records: submissions %d -> %d, audit %d -> %d", subs, n, audits, m)
	}
	if n, m := rl.count("/epr/alpha/alpha-1.0.0.zip"), rl.count("/package/alpha/1.0.0/"); n != zips || m != docs {
		t.Errorf("the upstream was asked again: zip %d -> %d, document %d -> %d", zips, n, docs, m)
	}
	a := fetch(t, s.URL, "/search?all=true")
	if strings.Contains(string(a.body), `"download": "/epr/alpha/alpha-1.0.0.zip"`) {
		t.Errorf("the merged /search lists the yanked revision (the upstream's copy):\n%s", a.body)
	}
}

// TestProxyCacheEviction: past MaxBytes the least recently used of the
// revisions the cache published are evicted (deleted from the store as if
// never published), never revisions published locally; an evicted
// revision is pulled again when asked for.
func TestProxyCacheEviction(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	up := startOurs(t, key, "", false, upstreamRevs)
	a, b, c := packageid.ID{Name: "alpha", Version: "1.0.0"}, packageid.ID{Name: "beta", Version: "1.0.0"}, packageid.ID{Name: "remoteonly", Version: "2.0.0"}
	var total int64
	for _, id := range []packageid.ID{a, b, c} {
		n, err := up.Server.Publisher.Footprint(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	s := servertest.Start(t, servertest.Options{Key: key, Configure: func(cfg *server.Config) {
		cfg.Proxy = server.ProxyConfig{Upstream: up.URL, Cache: true, Retry: client.Retry{Attempts: 2, Backoff: 10 * time.Millisecond}, MaxBytes: total - 1}
	}})
	for _, r := range localRevs {
		id := packageid.ID{Name: r.name, Version: r.version}
		if sub := s.Publish(t, id.ZipName(), zipOf(t, r), client.Options{Legacy: true}); sub.Status != "published" {
			t.Fatalf("publish %s: %+v", id, sub)
		}
		waitLocal(t, s, id)
	}
	get := func(id packageid.ID) {
		t.Helper()
		if r := fetch(t, s.URL, "/epr/"+id.Name+"/"+id.ZipName()); r.status != 200 {
			t.Fatalf("%s: %d %s", id, r.status, r.location)
		}
	}
	get(a)
	get(b)
	get(a) // a is now used more recently than b
	get(c) // over MaxBytes: b goes
	zipExists := func(id packageid.ID) bool {
		ok, err := s.Server.Buckets.Public.Exists(context.Background(), storage.ZipKey(id))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	waitFor(t, 10*time.Second, "beta 1.0.0 leaves the index", func() bool { return !s.Server.Registry.Serves(b) })
	if zipExists(b) {
		t.Error("the evicted revision's zip is still published")
	}
	objs, _ := s.Server.Buckets.Public.ListAll(context.Background(), &storage.ListOptions{Prefix: storage.StaticPrefix + b.String() + "/"})
	if len(objs) != 0 {
		t.Errorf("%d static files of the evicted revision left", len(objs))
	}
	for _, key := range []string{storage.DocumentKey(b), storage.RevisionKey(b), storage.ProxyCacheKey(b)} {
		if ok, _ := s.Server.Buckets.Internal.Exists(context.Background(), key); ok {
			t.Errorf("%s left after the eviction", key)
		}
	}
	if ok, _ := s.Server.Buckets.Public.Exists(context.Background(), storage.SignatureKey(b)); ok {
		t.Error("the evicted revision's signature is left")
	}
	for _, id := range []packageid.ID{a, c} {
		if ok, _ := s.Server.Buckets.Internal.Exists(context.Background(), storage.ProxyCacheKey(id)); !ok {
			t.Errorf("no cache record of %s", id)
		}
	}
	for _, r := range localRevs {
		if ok, _ := s.Server.Buckets.Internal.Exists(context.Background(), storage.ProxyCacheKey(packageid.ID{Name: r.name, Version: r.version})); ok {
			t.Errorf("a cache record for the locally published %s-%s", r.name, r.version)
		}
	}
	for _, id := range []packageid.ID{a, c} {
		if !zipExists(id) || !s.Server.Registry.Has(id) {
			t.Errorf("%s evicted, want it kept", id)
		}
	}
	for _, r := range localRevs {
		if id := (packageid.ID{Name: r.name, Version: r.version}); !zipExists(id) || !s.Server.Registry.Has(id) {
			t.Errorf("locally published %s is gone", id)
		}
	}
	// Asked for again, it is pulled and published again (a goes).
	get(b)
	waitFor(t, 10*time.Second, "beta 1.0.0 served again", func() bool { return s.Server.Registry.Has(b) })
	waitFor(t, 10*time.Second, "alpha 1.0.0 evicted", func() bool { return !s.Server.Registry.Serves(a) })
	if !s.Server.Registry.Has(c) {
		t.Error("remoteonly 2.0.0 evicted, want alpha 1.0.0 (least recently used)")
	}

	// After a restart with room for one revision, the records say which
	// revisions are the cache's: all of them go, no local one.
	s.Stop()
	s = servertest.Start(t, servertest.Options{Key: key, Data: s.Data, Configure: func(cfg *server.Config) {
		cfg.Proxy = server.ProxyConfig{Upstream: up.URL, Cache: true, Retry: client.Retry{Attempts: 2, Backoff: 10 * time.Millisecond}, MaxBytes: 1}
	}})
	d := packageid.ID{Name: "alpha", Version: "1.1.0"}
	waitLocal(t, s, c)
	get(d)
	waitFor(t, 10*time.Second, "the cache's revisions evicted", func() bool { return !s.Server.Registry.Serves(b) && !s.Server.Registry.Serves(c) })
	if !s.Server.Registry.Has(d) {
		t.Error("the revision just pulled was evicted")
	}
	for _, r := range localRevs {
		if id := (packageid.ID{Name: r.name, Version: r.version}); !zipExists(id) || !s.Server.Registry.Has(id) {
			t.Errorf("locally published %s is gone", id)
		}
	}
}
