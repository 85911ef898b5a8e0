package server

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// withCacheDirectives adds stale-while-revalidate and stale-if-error to
// the Cache-Control of every cacheable answer ("public", below 400) when
// configured: a CDN in front may then serve a stale answer while it
// refetches, or when the store errors (elastic/package-registry #638).
// Off by default: EPR sends neither, and Cache-Control stays EPR's.
func withCacheDirectives(h http.Handler, whileRevalidate, ifError time.Duration) http.Handler {
	var parts []string
	if whileRevalidate > 0 {
		parts = append(parts, fmt.Sprintf("stale-while-revalidate=%.0f", whileRevalidate.Seconds()))
	}
	if ifError > 0 {
		parts = append(parts, fmt.Sprintf("stale-if-error=%.0f", ifError.Seconds()))
	}
	if len(parts) == 0 {
		return h
	}
	extra := strings.Join(parts, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&directiveWriter{ResponseWriter: w, extra: extra}, r)
	})
}

type directiveWriter struct {
	http.ResponseWriter
	extra string
	done  bool
}

func (d *directiveWriter) add(code int) {
	if d.done {
		return
	}
	d.done = true
	h := d.ResponseWriter.Header()
	cc := h["Cache-Control"]
	if code >= 400 || !slices.ContainsFunc(cc, func(v string) bool { return strings.Contains(v, "public") }) {
		return
	}
	// The registry shares its rendered values between answers: a new slice.
	h["Cache-Control"] = append(slices.Clip(cc), d.extra)
}

func (d *directiveWriter) WriteHeader(code int) {
	d.add(code)
	d.ResponseWriter.WriteHeader(code)
}

func (d *directiveWriter) Write(b []byte) (int, error) {
	d.add(http.StatusOK)
	return d.ResponseWriter.Write(b)
}

// ReadFrom keeps the underlying writer's sendfile path for zips.
func (d *directiveWriter) ReadFrom(r io.Reader) (int64, error) {
	d.add(http.StatusOK)
	if rf, ok := d.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(d.ResponseWriter, r)
}

// Unwrap lets http.ResponseController reach the connection.
func (d *directiveWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// Flush passes flushes on.
func (d *directiveWriter) Flush() {
	d.add(http.StatusOK)
	if f, ok := d.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
