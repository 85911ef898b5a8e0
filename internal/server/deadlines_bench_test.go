package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkDeadlines is a keep-alive request's cost to a net/http server
// with serve's default timeouts, its deadlines set on the connection per
// request phase ("runtime") or kept for the sweep ("swept",
// deadlineListener), and without timeouts ("none", the bare server's);
// 16 connections at once, the process's CPU per request (client included):
//
//	go test ./internal/server -run '^$' -bench Deadlines -benchtime 100000x
func BenchmarkDeadlines(b *testing.B) {
	body := strings.Repeat("x", 1611)
	for _, mode := range []string{"none", "runtime", "swept"} {
		b.Run(mode, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			lim := HTTPLimits{}.withDefaults()
			hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })}
			var serveLn net.Listener = ln
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if mode != "none" {
				hs.ReadHeaderTimeout, hs.ReadTimeout, hs.WriteTimeout, hs.IdleTimeout = lim.ReadHeaderTimeout, lim.ReadTimeout, lim.WriteTimeout, lim.IdleTimeout
			}
			if mode == "swept" {
				dl := newDeadlineListener(ln, lim)
				go dl.run(ctx)
				serveLn = dl
			}
			go hs.Serve(serveLn)
			defer hs.Close()
			const conns = 16
			req := []byte("GET /categories HTTP/1.1\r\nHost: x\r\n\r\n")
			size := answerSize(b, ln.Addr().String(), req)
			work := make(chan int, conns)
			per := b.N / conns
			start := cpuTime(b)
			b.ResetTimer()
			for i := range conns {
				n := per
				if i == 0 {
					n += b.N % conns
				}
				go func() {
					c, err := net.Dial("tcp", ln.Addr().String())
					if err != nil {
						b.Error(err)
						work <- 0
						return
					}
					defer c.Close()
					// The answer's size is fixed (Date's text too): read
					// it whole, without parsing, as wrk does.
					buf := make([]byte, size)
					for j := range n {
						c.Write(req)
						if _, err := io.ReadFull(c, buf); err != nil {
							b.Error(err)
							work <- j
							return
						}
					}
					work <- n
				}()
			}
			for range conns {
				<-work
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime(b)-start).Nanoseconds())/float64(b.N)/1e3, "cpu-µs/op")
		})
	}
}

// answerSize is the bytes of one answer to req, headers included.
func answerSize(b *testing.B, addr string, req []byte) int {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	c.Write(req)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		b.Fatal(err)
	}
	var head strings.Builder
	resp.Body.Close()
	resp.Header.Write(&head)
	// Status line, headers, blank line, body.
	return len("HTTP/1.1 200 OK\r\n") + head.Len() + len("\r\n") + int(resp.ContentLength)
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(fmt.Errorf("getrusage: %w", err))
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
