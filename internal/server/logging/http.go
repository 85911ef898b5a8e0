package logging

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// RequestIDHeader carries a request's id in and out.
const RequestIDHeader = "X-Request-Id"

// maxRequestID bounds an id a client sends; a longer or unprintable one is
// replaced by a fresh id rather than copied into logs.
const maxRequestID = 128

type ctxKey struct{}

// RequestID returns the id of the request ctx belongs to ("" outside one).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// Middleware gives each request an id (the client's X-Request-Id when it
// sent a sane one, echoed back; otherwise a fresh one, used in logs only, so
// that answers to clients that send none stay byte-identical to EPR's) and
// logs one access line per request at info level, with EPR's ECS field
// names. /health is not logged, as in EPR (probes would drown the log).
func Middleware(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		sent := validID(id)
		if sent {
			w.Header()[RequestIDHeader] = []string{id}
		}
		logged := r.URL.Path != "/health" && log.Enabled(r.Context(), slog.LevelInfo)
		if !sent && !logged {
			next.ServeHTTP(w, r) // nothing to carry: no per-request cost
			return
		}
		if !sent {
			id = newID()
		}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, id))
		if !logged {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rw := &recorder{ResponseWriter: w}
		next.ServeHTTP(rw, r)
		if rw.status == 0 {
			rw.status = http.StatusOK
		}
		host, port, _ := net.SplitHostPort(r.Host)
		if host == "" {
			host = r.Host
		}
		src, _, _ := net.SplitHostPort(r.RemoteAddr)
		attrs := []slog.Attr{
			slog.String("log.logger", "http"),
			slog.String("http.request.id", id),
			slog.String("http.request.method", r.Method),
			slog.String("url.path", r.URL.Path),
			slog.String("url.domain", host),
			slog.Int("http.response.status_code", rw.status),
			slog.Int("http.response.code", rw.status), // EPR's name for it
			slog.Int64("http.response.body.bytes", rw.bytes),
			slog.Int64("event.duration", time.Since(start).Nanoseconds()),
			slog.String("source.address", src),
			slog.String("source.ip", src),
		}
		if ua := r.UserAgent(); ua != "" {
			attrs = append(attrs, slog.String("user_agent.original", ua))
		}
		if r.URL.RawQuery != "" {
			attrs = append(attrs, slog.String("url.query", r.URL.RawQuery))
		}
		if p, err := strconv.Atoi(port); err == nil {
			attrs = append(attrs, slog.Int("url.port", p))
		}
		log.LogAttrs(r.Context(), slog.LevelInfo, r.Method+" "+r.URL.Path+" "+r.Proto, attrs...)
	})
}

func validID(id string) bool {
	if id == "" || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// idPrefix makes this process's ids unlike another's; idCounter makes
// them unlike each other. An id is 24 hex digits, as when each was 12
// random bytes, without a getrandom(2) per request.
var (
	idPrefix  = func() (b [6]byte) { rand.Read(b[:]); return b }()
	idCounter atomic.Uint64
)

func newID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[8:], idCounter.Add(1))
	copy(b[4:10], idPrefix[:]) // the counter's low 48 bits stay
	return hex.EncodeToString(b[4:])
}

// recorder notes the status and the bytes written.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// ReadFrom keeps net/http's copy path (sendfile for files) when a handler
// streams a reader (http.ServeContent does).
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := io.Copy(r.ResponseWriter, src)
	r.bytes += n
	return n, err
}

// Flush keeps streaming answers streaming through the middleware.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
