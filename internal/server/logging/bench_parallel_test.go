package logging

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkAccessLogParallel is BenchmarkAccessLog's buffered mode with 32
// requests at once (wrk's -c32 over GOMAXPROCS), to a file, reporting the
// process's CPU time per request (user + system: the buffer's writes
// included, and what waiting on its lock costs the scheduler):
//
//	go test ./internal/server/logging -run '^$' -bench AccessLogParallel -benchtime 300000x
func BenchmarkAccessLogParallel(b *testing.B) {
	body := make([]byte, 1610)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	f, err := os.Create(filepath.Join(b.TempDir(), "access.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	log, buf, _ := NewBuffered(f, "text", "info", "s", "v")
	defer buf.Close()
	h := Middleware(log, next)
	b.SetParallelism(16)
	b.ReportAllocs()
	before := cpuNow(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("GET", "/categories?include_policy_templates=true", nil)
		req.RemoteAddr = "127.0.0.1:54321"
		req.Host = "127.0.0.1:8080"
		w := discard{h: http.Header{}}
		for pb.Next() {
			h.ServeHTTP(w, req)
		}
	})
	buf.Flush()
	b.StopTimer()
	b.ReportMetric(float64((cpuNow(b)-before).Nanoseconds())/float64(b.N)/1e3, "cpu-µs/op")
}

func cpuNow(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
