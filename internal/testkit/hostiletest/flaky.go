package hostiletest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Mode is how a Flaky upstream answers.
type Mode int32

const (
	// Healthy forwards every request to the real registry behind.
	Healthy Mode = iota
	// Hang sends nothing until the client leaves.
	Hang
	// Fail500 answers 500.
	Fail500
	// Drip sends 200, application/json, then a byte every 100 ms until
	// the client leaves.
	Drip
	// Reset closes the connection without an answer.
	Reset
	// Fail400 answers 400, as an upstream up but refusing the query.
	Fail400
)

// Flaky is a registry on loopback that forwards to a real one while
// Healthy and fails in the Mode set otherwise; it counts the requests it
// received (all modes) by path.
type Flaky struct {
	URL  string
	mode atomic.Int32
	mu   sync.Mutex
	hits map[string]int
	all  atomic.Int64
}

// StartFlaky runs a Flaky in front of the registry at behind until the
// test ends.
func StartFlaky(t testing.TB, behind string) *Flaky {
	t.Helper()
	target, err := url.Parse(behind)
	if err != nil {
		t.Fatal(err)
	}
	f := &Flaky{hits: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.hits[r.URL.Path]++
		f.mu.Unlock()
		f.all.Add(1)
		switch Mode(f.mode.Load()) {
		case Healthy:
			rp.ServeHTTP(w, r)
		case Hang:
			<-r.Context().Done()
		case Fail500:
			http.Error(w, "upstream broken", http.StatusInternalServerError)
		case Fail400:
			http.Error(w, "bad query", http.StatusBadRequest)
		case Drip:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			for r.Context().Err() == nil {
				if _, err := w.Write([]byte(" ")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
		case Reset:
			if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
				if tc, ok := c.(*net.TCPConn); ok {
					tc.SetLinger(0) // RST, not FIN
				}
				c.Close()
			}
		}
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// Set changes how the upstream answers from its next request on.
func (f *Flaky) Set(m Mode) { f.mode.Store(int32(m)) }

// Hits is the number of requests of path received so far.
func (f *Flaky) Hits(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[path]
}

// All is the number of requests received so far.
func (f *Flaky) All() int64 { return f.all.Load() }

// RefusingURL is an http:// URL on loopback where nothing listens:
// connections are refused.
func RefusingURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}
