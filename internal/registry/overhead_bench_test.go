package registry_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkHandlerOverhead is the CPU the serve handler spends per cached
// package document, without the network: ours against the limit's
// handler, both writing into a discarding ResponseWriter.
//
//	go test ./internal/registry -run '^$' -bench HandlerOverhead
func BenchmarkHandlerOverhead(b *testing.B) {
	f := v1Store(b)
	f.waitVisible(b)
	var urls []string
	for _, c := range f.published {
		urls = append(urls, "/package/"+c.id.Name+"/"+c.id.Version+"/")
	}
	limit, _ := recordLimit(b, f.store.URL, urls, "")
	defer limit.Close()
	reqs := make([]*http.Request, len(urls))
	for i, u := range urls {
		reqs[i] = httptest.NewRequest("GET", u, nil)
	}
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"ours", f.store.Server.Handler()}, {"limit", limit.Config.Handler}} {
		b.Run(c.name, func(b *testing.B) {
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				clear(w.h)
				c.h.ServeHTTP(w, reqs[i%len(reqs)])
				i++
			}
		})
	}
}

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}
