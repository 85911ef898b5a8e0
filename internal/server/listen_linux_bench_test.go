package server

import (
	"context"
	"io"
	"net"
	"testing"
)

// BenchmarkAcceptClose is a connection's cost as Kibana's client makes
// one per request: dial, accept, one byte each way, close; with serve's
// listener (keep-alive inherited) and with net.Listen's (four setsockopt
// calls per accepted connection):
//
//	go test ./internal/server -run '^$' -bench AcceptClose -benchtime 20000x
func BenchmarkAcceptClose(b *testing.B) {
	for _, name := range []string{"serve", "net.Listen"} {
		b.Run(name, func(b *testing.B) {
			var ln net.Listener
			var err error
			if name == "serve" {
				ln, err = listen(context.Background(), "127.0.0.1:0")
			} else {
				ln, err = net.Listen("tcp", "127.0.0.1:0")
			}
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			done := make(chan struct{})
			go func() {
				defer close(done)
				buf := make([]byte, 1)
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					if _, err := io.ReadFull(c, buf); err == nil {
						c.Write(buf)
					}
					c.Close()
				}
			}()
			buf := make([]byte, 1)
			b.ResetTimer()
			for range b.N {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				c.Write(buf)
				io.ReadFull(c, buf)
				c.Close()
			}
			b.StopTimer()
			ln.Close()
			<-done
		})
	}
}
