package mirror_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pkgstore/internal/client"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/testkit/eprtest"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/ziptest"
)

// rev is one test revision with what makes filters tell it apart.
type rev struct {
	name, version, kibana, category, typ string
}

// catalog is the upstream content of most tests.
var catalog = []rev{
	{"alpha", "1.0.0", "^8.0.0", "security", "integration"},
	{"alpha", "1.1.0", "^8.10.0", "security", "integration"},
	{"alpha", "1.2.0-beta1", "^8.10.0", "security", "integration"},
	{"beta", "0.9.0", "^7.17.0 || ^8.0.0", "observability", "integration"},
	{"beta", "1.0.0", "^8.12.0", "observability", "integration"},
	{"awslogs", "2.0.0", "^8.0.0", "security", "input"},
	{"awscloud", "3.1.0", "^8.0.0", "observability", "integration"},
}

// packageZip builds a small valid package zip for r, entries sorted (the
// reference takes assets in zip order).
func packageZip(t testing.TB, r rev) []byte {
	t.Helper()
	return ziptest.SortedPackage(t, r.name, r.version, func(m string) string {
		m = strings.Replace(m, `version: "^8.0.0"`, `version: "`+r.kibana+`"`, 1)
		m = strings.Replace(m, "  - custom\n", "  - "+r.category+"\n", 1)
		return strings.Replace(m, "type: integration\n", "type: "+r.typ+"\n", 1)
	})
}

// signedFolder writes every revision's zip and signature (by key) into a
// new folder and returns it with the zips by NAME-VERSION.
func signedFolder(t testing.TB, key *sigtest.Key, revs []rev) (string, map[string][]byte) {
	t.Helper()
	dir := t.TempDir()
	zips := map[string][]byte{}
	for _, r := range revs {
		z := packageZip(t, r)
		id := packageid.ID{Name: r.name, Version: r.version}
		zips[id.String()] = z
		if err := os.WriteFile(filepath.Join(dir, id.ZipName()), z, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, id.ZipName()+".sig"), key.Sign(t, z), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, zips
}

// referenceUpstream runs the reference EPR over a folder of signed zips.
func referenceUpstream(t testing.TB, key *sigtest.Key, revs []rev) (string, map[string][]byte) {
	t.Helper()
	dir, zips := signedFolder(t, key, revs)
	e := eprtest.Start(t, eprtest.Options{PackagePaths: []string{dir}, RequireSignatures: true})
	return e.URL, zips
}

// storeUpstream runs a pkgstore holding revs, signed by key.
func storeUpstream(t testing.TB, key *sigtest.Key, revs []rev) (*servertest.Store, map[string][]byte) {
	t.Helper()
	s := servertest.Start(t, servertest.Options{Key: key})
	zips := map[string][]byte{}
	for _, r := range revs {
		z := packageZip(t, r)
		id := packageid.ID{Name: r.name, Version: r.version}
		zips[id.String()] = z
		if sub := s.Publish(t, id.ZipName(), z, client.Options{Legacy: true}); sub.Status != "published" {
			t.Fatalf("publish %s: %+v", id, sub)
		}
	}
	for _, r := range revs {
		s.WaitVisible(t, r.name, r.version)
	}
	return s, zips
}

// get returns status and body of a GET.
func get(t testing.TB, u string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// ids returns the NAME-VERSIONs of a /search answer, in its order.
func ids(t testing.TB, body []byte) []string {
	t.Helper()
	var items []struct{ Name, Version string }
	if err := json.Unmarshal(body, &items); err != nil {
		t.Fatalf("decode /search: %v: %.300s", err, body)
	}
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Name + "-" + it.Version
	}
	return out
}

// fault says how the faulty relay misbehaves for one request.
type fault int

const (
	pass fault = iota
	status503
	hang
	truncate
	flipZipByte
	flipSigByte
)

// relay sits between the mirror and an upstream on loopback, counting
// requests and misbehaving as decide says.
type relay struct {
	URL      string
	upstream string
	decide   func(path string, nth int) fault

	mu     sync.Mutex
	counts map[string]int
}

func newRelay(t testing.TB, upstream string, decide func(path string, nth int) fault) *relay {
	t.Helper()
	r := &relay{upstream: upstream, decide: decide, counts: map[string]int{}}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// zipGets counts GETs of zips.
func (r *relay) zipGets() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for k, v := range r.counts {
		if strings.HasPrefix(k, "GET ") && strings.HasSuffix(k, ".zip") {
			n += v
		}
	}
	return n
}

func (r *relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	key := req.Method + " " + req.URL.Path
	r.counts[key]++
	nth := r.counts[key]
	r.mu.Unlock()
	f := pass
	if r.decide != nil {
		f = r.decide(req.URL.Path, nth)
	}
	switch f {
	case status503:
		http.Error(w, "upstream overloaded", http.StatusServiceUnavailable)
		return
	case hang:
		select {
		case <-req.Context().Done():
		case <-time.After(30 * time.Second):
		}
		return
	}
	out, err := http.NewRequestWithContext(req.Context(), req.Method, r.upstream+req.URL.RequestURI(), nil)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), 502)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for k, v := range resp.Header {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	switch f {
	case flipZipByte, flipSigByte:
		body = bytes.Clone(body)
		i := len(body) / 2
		if f == flipSigByte {
			// Inside the armored base64, away from the header.
			i = bytes.Index(body, []byte("\n\n")) + 10
		}
		body[i] ^= 0x01
	case truncate:
		w.Header().Set("Content-Length", itoa(len(body)))
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body[:len(body)/2])
		return // the server closes the connection: the client sees EOF early
	}
	if req.Method != http.MethodHead {
		w.Header().Set("Content-Length", itoa(len(body)))
	} else if cl := resp.Header.Get("Content-Length"); cl != "" {
		w.Header().Set("Content-Length", cl)
	}
	w.WriteHeader(resp.StatusCode)
	if req.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// tarEntries reads a bundle's entries.
func tarEntries(t testing.TB, path string) []tarEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []tarEntry
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{name: h.Name, body: b})
	}
}

type tarEntry struct {
	name string
	body []byte
}

func writeTar(t testing.TB, path string, es []tarEntry) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e.name, Size: int64(len(e.body)), Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fastRetry keeps failing tests quick.
var fastRetry = client.Retry{Attempts: 3, Backoff: time.Millisecond}

// noneOf asserts that the store has none of the given revisions: nothing
// half-published.
func noneOf(t testing.TB, s *servertest.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		pid, err := packageid.Parse(id)
		if err != nil {
			t.Fatal(err)
		}
		ok, err := s.Client.Published(context.Background(), pid)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			t.Errorf("%s was published; want nothing of it in the store", id)
		}
	}
}
