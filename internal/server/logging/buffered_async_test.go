package logging

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// gateWriter blocks every Write until released: a log destination that
// stalls (a full pipe, a slow disk).
type gateWriter struct {
	entered chan struct{} // a Write started
	release chan struct{} // closed: writes proceed
	mu      sync.Mutex
	buf     bytes.Buffer
}

func newGateWriter() *gateWriter {
	return &gateWriter{entered: make(chan struct{}, 1024), release: make(chan struct{})}
}

func (g *gateWriter) Write(p []byte) (int, error) {
	g.entered <- struct{}{}
	<-g.release
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.buf.Write(p)
}

func (g *gateWriter) String() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.buf.String()
}

// TestBufferedWriteDoesNotWaitForTheWrite: a line that fills the buffer
// hands it to the writer goroutine instead of writing it in the caller,
// so the request that happens to fill it does not wait for the file (or
// hold every other request's line behind the lock while it does); only
// with both buffers full do callers wait (the bound).
func TestBufferedWriteDoesNotWaitForTheWrite(t *testing.T) {
	g := newGateWriter()
	b := NewBufferedWriter(g)
	line := []byte(strings.Repeat("a", 99) + "\n")
	wrote := make(chan int)
	go func() {
		n := 0
		// One buffer and a half: the first buffer goes to the writer,
		// which blocks; the rest fills the second.
		for n < bufferSize*3/2 {
			b.Write(line)
			n += len(line)
		}
		wrote <- n
	}()
	select {
	case <-g.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the full buffer was not handed to the writer")
	}
	select {
	case n := <-wrote:
		if n < bufferSize*3/2 {
			t.Fatalf("wrote %d", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Write waited for the underlying write with a free buffer")
	}
	// Both buffers full now: the next line past the second waits.
	blocked := make(chan struct{})
	go func() {
		for i := 0; i < bufferSize/len(line)+1; i++ {
			b.Write(line)
		}
		close(blocked)
	}()
	select {
	case <-blocked:
		t.Fatal("writes went on past two full buffers while the destination was stalled")
	case <-time.After(200 * time.Millisecond):
	}
	close(g.release)
	<-blocked
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	want := (bufferSize*3/2+len(line)-1)/len(line) + bufferSize/len(line) + 1
	if got := strings.Count(g.String(), "\n"); got != want {
		t.Errorf("%d lines out, want %d", got, want)
	}
}

// TestBufferedConcurrentOrder: lines written from many goroutines, with
// flushes among them, all come out whole, each goroutine's in its order,
// and every Flush returns with what was written before it out.
func TestBufferedConcurrentOrder(t *testing.T) {
	w := &countingWriter{}
	b := NewBufferedWriter(w)
	const goroutines, lines = 8, 5000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				line := fmt.Sprintf("g%d n%d %s\n", g, i, strings.Repeat("x", i%300))
				b.Write([]byte(line))
				if i%1000 == 999 {
					if err := b.Flush(); err != nil {
						t.Error(err)
					}
					if out, _ := w.state(); !strings.Contains(out, line) {
						t.Errorf("Flush returned before %q was out", line[:12])
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	out, _ := w.state()
	next := make([]int, goroutines)
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var g, n int
		var x string
		if _, err := fmt.Sscanf(l, "g%d n%d %s", &g, &n, &x); err != nil && n%300 != 0 {
			t.Fatalf("torn line %q: %v", l, err)
		}
		if n != next[g] {
			t.Fatalf("goroutine %d: line %d after %d", g, n, next[g]-1)
		}
		next[g]++
	}
	for g, n := range next {
		if n != lines {
			t.Errorf("goroutine %d: %d lines out, want %d", g, n, lines)
		}
	}
}
