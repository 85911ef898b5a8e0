package logging

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingWriter records each Write it receives.
type countingWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	return c.buf.Write(p)
}

func (c *countingWriter) state() (string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String(), c.writes
}

// TestBufferedBatchesInfoLines: a thousand info lines reach the writer in
// a few writes, all of them within the flush interval (generous bound), in
// order; a warning goes out at once with what waited before it; Close
// flushes the rest.
func TestBufferedBatchesInfoLines(t *testing.T) {
	w := &countingWriter{}
	log, b, err := NewBuffered(w, "text", "info", "s", "v")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := range 1000 {
		log.Info("access", "n", i)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, writes := w.state()
		if strings.Count(out, "msg=access") == 1000 {
			if writes > 20 {
				t.Errorf("1000 lines took %d writes", writes)
			}
			if !strings.Contains(out, "n=0\n") || strings.Index(out, "n=998\n") > strings.Index(out, "n=999\n") {
				t.Error("lines out of order")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("info lines not flushed after 5 s: %d of 1000 out", strings.Count(out, "msg=access"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	log.Info("waiting")
	log.Warn("now")
	if out, _ := w.state(); !strings.Contains(out, "msg=waiting") || !strings.Contains(out, "msg=now") {
		t.Errorf("a warning did not flush at once: %q", out[max(0, len(out)-200):])
	}
	log.With("k", "v").Error("grouped")
	if out, _ := w.state(); !strings.Contains(out, "msg=grouped k=v") {
		t.Error("an error through With did not flush at once")
	}
	log.Info("last")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if out, _ := w.state(); !strings.Contains(out, "msg=last") {
		t.Error("Close did not flush")
	}
	// After Close, lines still arrive (serve's last words).
	log.Warn("after close")
	if out, _ := w.state(); !strings.Contains(out, "after close") {
		t.Error("a warning after Close was lost")
	}
}

// TestBufferedLargeLine: a line larger than the buffer is written whole,
// after what waited.
func TestBufferedLargeLine(t *testing.T) {
	w := &countingWriter{}
	b := NewBufferedWriter(w)
	defer b.Close()
	b.Write([]byte("first\n"))
	big := strings.Repeat("x", 2*bufferSize) + "\n"
	b.Write([]byte(big))
	if out, _ := w.state(); out != "first\n"+big {
		t.Errorf("got %d bytes, want first line then the large one (%d)", len(out), len(big)+6)
	}
}

// TestRequestIDsDistinct: ids are 24 hex digits and never repeat within a
// process, also when drawn at once.
func TestRequestIDsDistinct(t *testing.T) {
	seen := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5000 {
				id := newID()
				mu.Lock()
				if seen[id] || len(id) != 24 {
					t.Errorf("id %q repeated or not 24 digits", id)
				}
				seen[id] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestAccessLineAsSlogWritesIt: serve's access line, written as bytes,
// is the line slog's TextHandler writes for the same record, byte for
// byte, over values that need quoting (spaces, '=', quotes, control
// characters, invalid UTF-8, non-printable and non-ASCII runes, empty).
func TestAccessLineAsSlogWritesIt(t *testing.T) {
	hostile := []string{"", "plain", "a b", "k=v", `say "hi"`, "tab\there", "nl\n", "bs\\x", "\x00\x7f", "\xff\xfe", "é", "\u00a0nbsp", "\u200bzw", "日本", "<&>", "/search?x=1&y=2"}
	// Times in the same second with other milliseconds or another zone
	// (appendRFC3339Millis keeps each second's text), and before 1970.
	noon := time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)
	at := []time.Time{noon, time.Date(2026, 1, 2, 3, 4, 5, 999_999_999, time.FixedZone("X", -3*3600-1800)), time.Now(),
		noon.Add(7 * time.Millisecond), noon.Add(420 * time.Millisecond).In(time.FixedZone("Y", 5*3600)), noon.Add(999 * time.Millisecond).Local(),
		time.Date(1969, 12, 31, 23, 59, 59, 12_000_000, time.UTC)}
	n := 0
	for i, v := range hostile {
		for j, w := range hostile {
			l := accessLine{id: v, method: w, path: "/p/" + v, host: w, src: v, ua: w, query: hostile[(i+j)%len(hostile)],
				status: 200 + i, bytes: int64(j) * 1000, dur: time.Duration(i*j) * time.Microsecond, port: i * 100, hasPort: j%2 == 0}
			tm := at[(i+j)%len(at)]
			msg := w + " " + l.path + " HTTP/1.1"
			var want bytes.Buffer
			rec := slog.NewRecord(tm, slog.LevelInfo, msg, 0)
			rec.AddAttrs(l.attrs()...)
			if err := slog.NewTextHandler(&want, &slog.HandlerOptions{Level: slog.LevelInfo}).Handle(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
			if got := l.appendText(nil, tm, w, l.path, "HTTP/1.1"); string(got) != want.String() {
				t.Fatalf("values %q, %q:\n got %s\nwant %s", v, w, got, want.String())
			}
			n++
		}
	}
	t.Logf("%d lines identical", n)
}

// TestMiddlewareFastLine: through serve's buffered text logger, the
// middleware writes the access line itself, with every field.
func TestMiddlewareFastLine(t *testing.T) {
	w := &countingWriter{}
	log, b, err := NewBuffered(w, "text", "info", "s", "v")
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := log.Handler().(flushing); !ok || !f.text || !f.root {
		t.Fatalf("handler %T: not the fast text path", log.Handler())
	}
	if f, ok := log.With("k", "v").Handler().(flushing); !ok || f.root {
		t.Fatal("a logger with added attributes would take the fast path and drop them")
	}
	h := Middleware(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte("tea"))
	}))
	req := httptest.NewRequest("GET", "http://store.example:8080/search?q=a%20b", nil)
	req.RemoteAddr = "10.1.2.3:4567"
	req.Header.Set("User-Agent", "Kibana 8.15")
	req.Header.Set(RequestIDHeader, "rid-1")
	h.ServeHTTP(httptest.NewRecorder(), req)
	b.Close()
	out, _ := w.state()
	for _, want := range []string{` level=INFO msg="GET /search HTTP/1.1" log.logger=http http.request.id=rid-1 http.request.method=GET url.path=/search url.domain=store.example http.response.status_code=418 http.response.code=418 http.response.body.bytes=3 event.duration=`,
		` source.address=10.1.2.3 source.ip=10.1.2.3 user_agent.original="Kibana 8.15" url.query="q=a%20b" url.port=8080` + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("line %q lacks %q", out, want)
		}
	}
}
