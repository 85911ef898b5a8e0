// Package hostiletest runs a hostile package registry on loopback for the
// tests of everything that downloads from elsewhere (the proxy cache,
// mirror): zips that never end or drip, garbage signatures, and counters of
// what was asked and sent; and a Flaky registry (flaky.go) in front of a
// real one that hangs, drips, answers 500 or 400, or resets connections
// on demand (proxy mode's failing upstream).
package hostiletest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/testkit/sigtest"
)

// Zip says how the upstream answers a zip.
type Zip int

const (
	// Endless streams bytes until the client leaves, without a
	// Content-Length.
	Endless Zip = iota
	// Huge declares a Content-Length of 1 TiB, then streams until the
	// client leaves.
	Huge
)

// Options of an Upstream.
type Options struct {
	// Key signs the signatures (with GarbageSig false): a real signature
	// by a trusted key, over other bytes.
	Key *sigtest.Key
	// Revisions the upstream lists in /search and describes at
	// /package/N/V/.
	Revisions []packageid.ID
	Zip       Zip
	// Rate, if not zero, sends the zip at about this many bytes a second.
	Rate int64
	// GarbageSig serves HTML instead of a signature.
	GarbageSig bool
}

// Upstream is a running hostile registry.
type Upstream struct {
	URL string
	o   Options
	sig []byte

	sent    atomic.Int64 // zip bytes written
	active  atomic.Int64 // zip answers being written
	mu      sync.Mutex
	asked   map[string]int // GETs by path
	lastEnd time.Time      // when the last zip answer ended
}

// Start runs an Upstream until the test ends.
func Start(t testing.TB, o Options) *Upstream {
	t.Helper()
	u := &Upstream{o: o, asked: map[string]int{}}
	if o.Key != nil {
		u.sig = o.Key.Sign(t, []byte("other bytes"))
	}
	srv := httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(srv.Close)
	u.URL = srv.URL
	return u
}

// Sent is the number of zip bytes written so far.
func (u *Upstream) Sent() int64 { return u.sent.Load() }

// Active is the number of zip answers being written now.
func (u *Upstream) Active() int64 { return u.active.Load() }

// Asked is the number of GETs of path.
func (u *Upstream) Asked(path string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.asked[path]
}

// LastEnd is when the last zip answer ended (zero: none has).
func (u *Upstream) LastEnd() time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.lastEnd
}

// WaitIdle waits until no zip answer is being written, for at most d,
// and reports whether that happened.
func (u *Upstream) WaitIdle(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for u.Active() > 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

func (u *Upstream) serve(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.asked[r.URL.Path]++
	u.mu.Unlock()
	if r.URL.Path == "/search" {
		type item struct {
			Name          string `json:"name"`
			Version       string `json:"version"`
			Download      string `json:"download"`
			SignaturePath string `json:"signature_path"`
		}
		items := []item{}
		for _, id := range u.o.Revisions {
			items = append(items, item{id.Name, id.Version, "/epr/" + id.Name + "/" + id.ZipName(), "/epr/" + id.Name + "/" + id.ZipName() + ".sig"})
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(items)
		return
	}
	for _, id := range u.o.Revisions {
		switch r.URL.Path {
		case "/package/" + id.Name + "/" + id.Version + "/":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"name": %q, "version": %q, "format_version": "1.0.0", "download": "/epr/%s/%s"}`, id.Name, id.Version, id.Name, id.ZipName())
			return
		case "/epr/" + id.Name + "/" + id.ZipName() + ".sig":
			if u.o.GarbageSig {
				w.Write([]byte("<html><body>not a signature</body></html>"))
				return
			}
			w.Write(u.sig)
			return
		case "/epr/" + id.Name + "/" + id.ZipName():
			u.zip(w, r)
			return
		}
	}
	http.NotFound(w, r)
}

func (u *Upstream) zip(w http.ResponseWriter, r *http.Request) {
	u.active.Add(1)
	defer func() {
		u.mu.Lock()
		u.lastEnd = time.Now()
		u.mu.Unlock()
		u.active.Add(-1)
	}()
	chunk := make([]byte, 32<<10)
	for i := range chunk {
		chunk[i] = byte(i*7 + i>>8)
	}
	if u.o.Zip == Huge {
		w.Header().Set("Content-Length", "1099511627776")
	}
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	step := chunk
	var tick time.Duration
	if u.o.Rate > 0 {
		// About 20 writes a second at the asked rate.
		n := max(u.o.Rate/20, 1)
		step = chunk[:min(n, int64(len(chunk)))]
		tick = time.Duration(float64(time.Second) * float64(len(step)) / float64(u.o.Rate))
	}
	for r.Context().Err() == nil {
		n, err := w.Write(step)
		u.sent.Add(int64(n))
		if err != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
		if tick > 0 {
			select {
			case <-r.Context().Done():
			case <-time.After(tick):
			}
		}
	}
}

// DirSize is the bytes of the regular files under dir (0 when absent).
func DirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// Watch samples DirSize(dir) every few milliseconds until stop is called,
// which returns the largest size seen.
func Watch(dir string) (stop func() int64) {
	var peak atomic.Int64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			if n := DirSize(dir); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() int64 {
		close(done)
		<-finished
		if n := DirSize(dir); n > peak.Load() {
			peak.Store(n)
		}
		return peak.Load()
	}
}
