package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingListener counts, over its connections, the deadlines that arm
// a runtime timer (a future time) and all Set*Deadline calls.
type countingListener struct {
	net.Listener
	mu           sync.Mutex
	armed, calls int
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, l: l}, nil
}

type countingConn struct {
	net.Conn
	l *countingListener
}

func (c *countingConn) note(t time.Time) {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	c.l.calls++
	if !t.IsZero() && time.Until(t) > 0 {
		c.l.armed++
	}
}

func (c *countingConn) SetReadDeadline(t time.Time) error {
	c.note(t)
	return c.Conn.SetReadDeadline(t)
}

func (c *countingConn) SetWriteDeadline(t time.Time) error {
	c.note(t)
	return c.Conn.SetWriteDeadline(t)
}

func (c *countingConn) SetDeadline(t time.Time) error {
	c.note(t)
	return c.Conn.SetDeadline(t)
}

// serveLazy serves h with serve's default timeouts on a loopback
// listener, through deadlineListener over inner (which may wrap it).
func serveLazy(t *testing.T, lim HTTPLimits, h http.Handler, wrap func(net.Listener) net.Listener) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim = lim.withDefaults()
	dl := newDeadlineListener(wrap(ln), lim)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); dl.run(ctx) }()
	hs := &http.Server{Handler: h, ReadHeaderTimeout: lim.ReadHeaderTimeout, ReadTimeout: lim.ReadTimeout,
		WriteTimeout: lim.WriteTimeout, IdleTimeout: lim.IdleTimeout}
	go hs.Serve(dl)
	t.Cleanup(func() { hs.Close(); cancel(); <-done })
	return ln.Addr().String()
}

// TestDeadlinesArmNoTimerPerRequest: net/http sets a read deadline for
// each phase of a request (idle, headers, whole request) and a write
// deadline for its answer, each a runtime timer to move; with serve's
// timeouts, far off, they are kept and enforced by the sweep instead, so
// 200 keep-alive requests arm no timer on the connection.
func TestDeadlinesArmNoTimerPerRequest(t *testing.T) {
	cl := &countingListener{}
	addr := serveLazy(t, HTTPLimits{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		func(ln net.Listener) net.Listener { cl.Listener = ln; return cl })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	const n = 200
	for i := range n {
		fmt.Fprintf(c, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.armed > 2 {
		t.Errorf("%d requests armed %d deadline timers (%d calls reached the connection)", n, cl.armed, cl.calls)
	}
	// net/http's own abort of the background read (a past deadline, then
	// none) still reaches it: twice a request, as on a bare server.
	if cl.calls > 3*n {
		t.Errorf("%d requests made %d deadline calls on the connection", n, cl.calls)
	}
}

// TestDeadlinesSweepEnforces: a kept deadline still ends a blocked read or
// write once it passes, late by at most a sweep (here 1/20 of a 1 s
// timeout), and a later deadline set after that lets the connection work
// again, as with the runtime's own deadlines.
func TestDeadlinesSweepEnforces(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dl := newDeadlineListener(ln, HTTPLimits{ReadHeaderTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second, IdleTimeout: time.Second}.withDefaults())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go dl.run(ctx)
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sc, err := dl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	for _, tc := range []struct {
		name string
		set  func(time.Time) error
		op   func() error
	}{
		{"read", sc.SetReadDeadline, func() error { _, err := sc.Read(make([]byte, 1)); return err }},
		{"write", sc.SetWriteDeadline, func() error {
			// The client reads nothing: the socket buffers fill.
			buf := make([]byte, 1<<20)
			for {
				if _, err := sc.Write(buf); err != nil {
					return err
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := 1500 * time.Millisecond // far enough to be kept, not armed
			start := time.Now()
			tc.set(start.Add(d))
			err := tc.op()
			took := time.Since(start)
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("%v, want the deadline's error", err)
			}
			if took < d || took > d+time.Second {
				t.Errorf("ended after %v, deadline %v", took, d)
			}
			if tc.name == "read" {
				tc.set(time.Now().Add(time.Minute))
				client.Write([]byte("x"))
				if err := tc.op(); err != nil {
					t.Errorf("read after a later deadline: %v", err)
				}
			}
		})
	}
}

// TestDeadlinesWriteTimeoutEndToEnd: an answer to a client that stops
// reading is cut at the write timeout through net/http, as before.
func TestDeadlinesWriteTimeoutEndToEnd(t *testing.T) {
	big := strings.Repeat("x", 64<<20)
	handlerDone := make(chan error, 1)
	addr := serveLazy(t, HTTPLimits{WriteTimeout: 1200 * time.Millisecond}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.WriteString(w, big)
		handlerDone <- err
	}), func(ln net.Listener) net.Listener { return ln })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case err := <-handlerDone:
		if err == nil {
			t.Fatal("64 MB written to a client that reads nothing")
		}
		if took := time.Since(start); took < time.Second || took > 5*time.Second {
			t.Errorf("write cut after %v, write timeout 1.2s", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a client that reads nothing held the answer 10 s past a 1.2 s write timeout")
	}
}
