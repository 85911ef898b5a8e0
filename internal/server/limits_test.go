package server_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"pkgstore/internal/api"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/client"
	"pkgstore/internal/server"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/ziptest"
)

// rawConn is a TCP client that writes exactly what it is told, as an
// attacker's would.
func rawConn(t *testing.T, url string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reports whether the server closes c within d (reading and
// discarding whatever it sends first).
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

func TestConnectionTimeouts(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Memory: true, Configure: func(c *server.Config) {
		c.HTTP = server.HTTPLimits{ReadHeaderTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond, ReadTimeout: 2 * time.Second}
	}})

	t.Run("slowloris headers", func(t *testing.T) {
		c := rawConn(t, s.URL)
		fmt.Fprintf(c, "GET /search HTTP/1.1\r\nHost: x\r\n")
		start := time.Now()
		// One header line every 100 ms keeps an unbounded server waiting.
		stop := make(chan struct{})
		go func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				if _, err := fmt.Fprintf(c, "X-Slow-%d: 1\r\n", i); err != nil {
					return
				}
			}
		}()
		defer close(stop)
		if !closedWithin(c, 5*time.Second) {
			t.Fatal("a client trickling headers kept its connection for 5s")
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("closed after %v, read-header timeout is 300ms", took)
		}
	})

	t.Run("idle keep-alive", func(t *testing.T) {
		c := rawConn(t, s.URL)
		fmt.Fprintf(c, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%v %v", resp, err)
		}
		resp.Body.Close()
		if !closedWithin(c, 3*time.Second) {
			t.Error("idle connection kept past the idle timeout")
		}
	})

	t.Run("nothing sent", func(t *testing.T) {
		c := rawConn(t, s.URL)
		if !closedWithin(c, 3*time.Second) {
			t.Error("silent connection kept past the read-header timeout")
		}
	})

	// The store still serves normal clients.
	if code, _ := s.Get(t, "/search"); code != 200 {
		t.Errorf("/search after the attacks: %d", code)
	}
}

func TestRequestSizeLimits(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Memory: true, Configure: func(c *server.Config) {
		c.HTTP = server.HTTPLimits{MaxHeaderBytes: 8 << 10, MaxURILength: 2 << 10}
	}})
	for _, tc := range []struct {
		name   string
		target string
		header string
		code   int
	}{
		{"normal", "/search?package=x", "", 200},
		{"query at the limit", "/search?package=" + strings.Repeat("a", 2<<10-len("/search?package=")), "", 200},
		{"query over the URI limit", "/search?q=" + strings.Repeat("a", 3<<10), "", 414},
		{"path over the URI limit", "/package/" + strings.Repeat("a", 3<<10) + "/1.0.0/", "", 414},
		{"header over the header limit", "/search", strings.Repeat("b", 16<<10), 431},
		{"request line over the header limit", "/search?q=" + strings.Repeat("a", 16<<10), "", 431},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := rawConn(t, s.URL)
			var req bytes.Buffer
			fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: x\r\n", tc.target)
			if tc.header != "" {
				fmt.Fprintf(&req, "X-Big: %s\r\n", tc.header)
			}
			req.WriteString("\r\n")
			c.Write(req.Bytes())
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Errorf("%d, want %d", resp.StatusCode, tc.code)
			}
		})
	}
}

func TestPublishRateLimitAndBackPressure(t *testing.T) {
	release := make(chan struct{})
	s := servertest.Start(t, servertest.Options{Memory: true, Configure: func(c *server.Config) {
		c.PublishRate, c.PublishBurst = 6, 3 // one every 10s after three
		c.MaxPending = 2
		c.Workers = 1
		c.AfterStep = func(step string) {
			if step == "claimed" {
				<-release // hold the worker: submissions pile up
			}
		}
	}})
	var releaseOnce bool
	defer func() {
		if !releaseOnce {
			close(release)
		}
	}()
	ctx := context.Background()
	submit := func(name string) (*api.Submission, error) {
		zip := ziptest.Package(t, name, "1.0.0")
		return s.Client.Submit(ctx, name+"-1.0.0.zip", bytes.NewReader(zip), s.Key.Sign(t, zip), client.Options{Legacy: true})
	}
	var accepted []string
	for i, tc := range []struct {
		code  int // 0: accepted
		retry bool
	}{
		{0, false},  // taken by the worker, held at "claimed"
		{0, false},  // waits
		{503, true}, // two pending: the queue is full
		{429, true}, // burst of three spent (the 503 took a token)
	} {
		sub, err := submit(fmt.Sprintf("p%d", i))
		if tc.code == 0 {
			if err != nil {
				t.Fatalf("submission %d: %v", i, err)
			}
			accepted = append(accepted, sub.ID)
			waitPending(t, s, len(accepted))
			continue
		}
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.StatusCode != tc.code || tc.retry && ae.RetryAfter <= 0 {
			t.Fatalf("submission %d: %v, want %d with Retry-After", i, err, tc.code)
		}
	}
	// Another token identity would not be limited; the status route never is.
	for _, id := range accepted {
		if _, err := s.Client.Status(ctx, id, 0); err != nil {
			t.Errorf("status %s: %v", id, err)
		}
	}
	close(release)
	releaseOnce = true
	for _, id := range accepted {
		sub, err := s.Client.Wait(ctx, id)
		if err != nil || sub.Status != api.StatusPublished {
			t.Errorf("%s: %v %v", id, sub, err)
		}
	}
}

func waitPending(t *testing.T, s *servertest.Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.Server.Publisher.Pending() < n {
		if time.Now().After(deadline) {
			t.Fatalf("pending %d, want %d", s.Server.Publisher.Pending(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
