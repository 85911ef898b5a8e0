package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestECSRecord(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "ecs", "info", "package-registry", "1.40.1")
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("hidden")
	log.Warn("reload failed", "err", errors.New("boom"), "took", 1500*time.Millisecond)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	want := map[string]any{"log.level": "warn", "message": "reload failed", "error.message": "boom", "event.duration": 1.5e9, "service.name": "package-registry", "ecs.version": ECSVersion}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %v, want %v (%v)", k, rec[k], v, rec)
		}
	}
	if ts, _ := rec["@timestamp"].(string); !strings.HasSuffix(ts, "Z") || len(ts) != len("2006-01-02T15:04:05.000Z") {
		t.Errorf("@timestamp %q", ts)
	}
	for _, bad := range [][2]string{{"xml", "info"}, {"text", "loud"}} {
		if _, err := New(&buf, bad[0], bad[1], "", ""); err == nil {
			t.Errorf("New(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

func TestMiddlewareRequestID(t *testing.T) {
	var buf bytes.Buffer
	log, _ := New(&buf, "ecs", "info", "s", "v")
	var seen string
	h := Middleware(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = RequestIDOf(&wrapped{w})
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte("tea"))
	}))
	for _, tc := range []struct {
		sent string
		echo bool
	}{
		{"abc-123", true},
		{"", false},
		{"has space", false},
		{strings.Repeat("a", maxRequestID+1), false},
	} {
		buf.Reset()
		req := httptest.NewRequest("GET", "/search?q=1", nil)
		if tc.sent != "" {
			req.Header.Set(RequestIDHeader, tc.sent)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if got := w.Header().Get(RequestIDHeader); tc.echo && got != tc.sent || !tc.echo && got != "" {
			t.Errorf("sent %q: echoed %q", tc.sent, got)
		}
		if tc.echo && seen != tc.sent || !tc.echo && len(seen) != 24 {
			t.Errorf("sent %q: id seen by the handler %q", tc.sent, seen)
		}
		var rec map[string]any
		if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["http.request.id"] != seen || rec["http.response.status_code"] != 418.0 || rec["http.response.body.bytes"] != 3.0 || rec["url.query"] != "q=1" {
			t.Errorf("log %v", rec)
		}
	}
	// Without logging and without an id sent, the request goes through untouched.
	quiet, _ := New(&buf, "ecs", "warn", "s", "v")
	buf.Reset()
	Middleware(quiet, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = RequestIDOf(w) })).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if seen != "" || buf.Len() != 0 {
		t.Errorf("quiet: id %q, log %q", seen, buf.String())
	}
}

// wrapped is a writer another middleware (metrics) puts around the
// logging middleware's.
type wrapped struct{ http.ResponseWriter }

func (w *wrapped) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestMiddlewareCountsStreamedBytes: a handler streaming through io.Copy
// (ReadFrom) is counted like one calling Write.
func TestMiddlewareCountsStreamedBytes(t *testing.T) {
	var buf bytes.Buffer
	log, _ := New(&buf, "ecs", "info", "s", "v")
	h := Middleware(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, strings.NewReader(strings.Repeat("z", 100000)))
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/epr/a/a-1.0.0.zip", nil))
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if w.Body.Len() != 100000 || rec["http.response.body.bytes"] != 100000.0 || rec["http.response.status_code"] != 200.0 {
		t.Errorf("%d bytes sent, log %v", w.Body.Len(), rec)
	}
}

// TestSplitHostPortAsNet: the access line's host and port split agrees
// with net.SplitHostPort wherever that succeeds, and fails where it fails.
func TestSplitHostPortAsNet(t *testing.T) {
	for _, s := range []string{"127.0.0.1:8080", "example.com:443", "host:", ":80", "[::1]:8080", "[::1]", "::1", "a:b:c",
		"[fe80::1%eth0]:80", "x]:1", "[x:1", "noport", "", ":", "host:port:"} {
		h, p, err := splitHostPort(s)
		wh, wp, werr := net.SplitHostPort(s)
		if (err == nil) != (werr == nil) || err == nil && (h != wh || p != wp) {
			t.Errorf("%q: %q %q %v, net: %q %q %v", s, h, p, err, wh, wp, werr)
		}
	}
}

// TestAccessLineDuration: the duration comes from the monotonic clock
// alone and still measures the handler.
func TestAccessLineDuration(t *testing.T) {
	var out bytes.Buffer
	log, b, err := NewBuffered(&out, "text", "info", "s", "v")
	if err != nil {
		t.Fatal(err)
	}
	h := Middleware(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(20 * time.Millisecond) }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
	b.Close()
	_, rest, ok := strings.Cut(out.String(), " event.duration=")
	if !ok {
		t.Fatalf("no duration in %q", out.String())
	}
	ns, err := strconv.ParseInt(rest[:strings.IndexByte(rest, ' ')], 10, 64)
	if err != nil || ns < int64(20*time.Millisecond) || ns > int64(10*time.Second) {
		t.Errorf("duration %d ns (%v) for a 20 ms handler", ns, err)
	}
}

// TestMiddlewareRequestIDAnyCase: a client's id sent in lower case over a
// real connection is found (net/http canonicalizes the key) and echoed.
func TestMiddlewareRequestIDAnyCase(t *testing.T) {
	var buf bytes.Buffer
	log, _ := New(&buf, "text", "info", "s", "v")
	srv := httptest.NewServer(Middleware(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nx-request-id: lower-1\r\nConnection: close\r\n\r\n")
	out, _ := io.ReadAll(c)
	if !strings.Contains(string(out), "\r\nX-Request-Id: lower-1\r\n") {
		t.Errorf("id sent in lower case not echoed:\n%s", out)
	}
}
