package mirror_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"pkgstore/internal/client"
	"pkgstore/internal/client/mirror"
	"pkgstore/internal/publish/indexsig"
	"pkgstore/internal/server"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
)

// tamperer sits between a mirror and its upstream and answers some paths
// with bytes of its choosing (a compromised CDN or mirror).
type tamperer struct {
	mu   sync.Mutex
	over map[string][]byte
}

func (tp *tamperer) set(path string, body []byte) {
	tp.mu.Lock()
	tp.over[path] = body
	tp.mu.Unlock()
}

func (tp *tamperer) reset() {
	tp.mu.Lock()
	tp.over = map[string][]byte{}
	tp.mu.Unlock()
}

func startTamperer(t *testing.T, upstream string) (*tamperer, string) {
	t.Helper()
	u, _ := url.Parse(upstream)
	tp := &tamperer{over: map[string][]byte{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tp.mu.Lock()
		body, ok := tp.over[r.URL.Path]
		tp.mu.Unlock()
		if ok {
			w.Write(body)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return tp, srv.URL
}

func getOK(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	return b
}

var trustPaths = []string{"/api/v1/trust/index", "/api/v1/trust/index.sig", "/api/v1/trust/snapshot", "/api/v1/trust/snapshot.sig"}

func TestMirrorChecksSignedIndex(t *testing.T) {
	pubKey, indexKey := sigtest.NewKey(t, "publisher"), sigtest.NewKey(t, "index")
	up := servertest.Start(t, servertest.Options{Key: pubKey, Memory: true, Configure: func(c *server.Config) {
		c.Trust = server.TrustConfig{SigningKey: indexKey.PrivatePath}
	}})
	publish := func(r rev) {
		t.Helper()
		up.Publish(t, r.name+"-"+r.version+".zip", packageZip(t, r), client.Options{})
		up.WaitVisible(t, r.name, r.version)
	}
	publish(catalog[0])
	tp, from := startTamperer(t, up.URL)
	// What the upstream served then, to replay later.
	old := map[string][]byte{}
	for _, p := range trustPaths {
		old[p] = getOK(t, up.URL+p)
	}
	publish(catalog[3])

	dir := t.TempDir()
	cfg := func(bundle string) mirror.Config {
		return mirror.Config{From: from, Filters: mirror.Filters{AllVersions: true}, Keyring: pubKey.Keyring, Retry: fastRetry,
			Bundle: filepath.Join(dir, bundle), Index: &mirror.IndexCheck{Keyring: indexKey.Keyring, StateFile: filepath.Join(dir, "state.json")}}
	}
	sum, err := mirror.Run(context.Background(), cfg("one.tar"))
	if err != nil || !sum.OK() || sum.Transferred != 2 {
		t.Fatalf("mirror of a signed upstream: %+v %v", sum, err)
	}

	t.Run("rolled-back snapshot", func(t *testing.T) {
		for p, b := range old {
			tp.set(p, b)
		}
		defer tp.reset()
		_, err := mirror.Run(context.Background(), cfg("two.tar"))
		if !errors.Is(err, mirror.ErrIndexRefused) || !errors.Is(err, indexsig.ErrRollback) {
			t.Fatalf("mirror of a rolled-back upstream: %v", err)
		}
	})
	t.Run("snapshot signed by another key", func(t *testing.T) {
		c := cfg("three.tar")
		c.Index.Keyring = sigtest.NewKey(t, "other").Keyring
		_, err := mirror.Run(context.Background(), c)
		if !errors.Is(err, mirror.ErrIndexRefused) || !errors.Is(err, indexsig.ErrSignature) {
			t.Fatalf("mirror with another index key: %v", err)
		}
	})
	t.Run("zip not the one the snapshot lists", func(t *testing.T) {
		// Another build of alpha 1.0.0, validly signed by the publisher:
		// its signature passes, the snapshot does not.
		r := catalog[0]
		other := packageZip(t, rev{r.name, r.version, r.kibana, "network", r.typ})
		zipPath := "/epr/" + r.name + "/" + r.name + "-" + r.version + ".zip"
		tp.set(zipPath, other)
		tp.set(zipPath+".sig", pubKey.Sign(t, other))
		defer tp.reset()
		sum, err := mirror.Run(context.Background(), cfg("four.tar"))
		if err != nil || len(sum.Failed) != 1 || !strings.Contains(strings.Join(sum.Failed[0].Reasons, " "), "signed snapshot says") {
			t.Fatalf("mirror of a swapped zip: %+v %v", sum, err)
		}
	})
}
