package logging

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkAccessLog is the middleware's CPU per request (a 1,610-byte
// answer, /categories' size) with the access line off (warn level), on and
// written to a file line by line (as before the buffer), and on through
// the buffer (as serve runs now; with a Host with and without a port):
//
//	go test ./internal/server/logging -run '^$' -bench AccessLog
func BenchmarkAccessLog(b *testing.B) {
	body := make([]byte, 1610)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	for _, mode := range []string{"off", "file", "buffered", "buffered-port"} {
		b.Run(mode, func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "access.log"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			var h http.Handler
			switch mode {
			case "off":
				log, _ := New(f, "text", "warn", "s", "v")
				h = Middleware(log, next)
			case "file":
				log, _ := New(f, "text", "info", "s", "v")
				h = Middleware(log, next)
			case "buffered", "buffered-port":
				log, buf, _ := NewBuffered(f, "text", "info", "s", "v")
				defer buf.Close()
				h = Middleware(log, next)
			}
			req := httptest.NewRequest("GET", "/categories?include_policy_templates=true", nil)
			req.RemoteAddr = "127.0.0.1:54321"
			if mode == "buffered-port" {
				req.Host = "127.0.0.1:8080" // as wrk sends it; Kibana's Host has no port on 443
			}
			w := discard{h: http.Header{}}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				h.ServeHTTP(w, req)
			}
		})
	}
}

// BenchmarkRequestID: a counter against 12 random bytes per request.
func BenchmarkRequestID(b *testing.B) {
	b.Run("counter", func(b *testing.B) {
		for range b.N {
			_ = newID()
		}
	})
	b.Run("crypto-rand", func(b *testing.B) {
		for range b.N {
			var r [12]byte
			rand.Read(r[:])
			_ = hex.EncodeToString(r[:])
		}
	})
}

type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(p []byte) (int, error) { return io.Discard.Write(p) }
func (d discard) WriteHeader(int)             {}
