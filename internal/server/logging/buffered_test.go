package logging

import (
	"bytes"
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
