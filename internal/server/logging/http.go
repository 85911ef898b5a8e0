package logging

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// RequestIDHeader carries a request's id in and out.
const RequestIDHeader = "X-Request-Id"

// maxRequestID bounds an id a client sends; a longer or unprintable one is
// replaced by a fresh id rather than copied into logs.
const maxRequestID = 128

// RequestIDOf returns the id of the request w answers ("" outside the
// middleware): w is the middleware's writer, or wraps it (Unwrap, as
// http.ResponseController finds the connection). The id travels with the
// writer rather than in the request's context: a context value costs a
// copy of the request and a context per request (two allocations, 300
// bytes), for every request, where a handler asks for the id only when it
// logs an error.
func RequestIDOf(w http.ResponseWriter) string {
	for w != nil {
		if st, ok := w.(*requestState); ok {
			return st.id()
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return ""
		}
		w = u.Unwrap()
	}
	return ""
}

// requestState is what the middleware keeps per request, in one
// allocation: the recorder (the writer the handlers get) and the id.
type requestState struct {
	recorder
	sent string   // the client's id, when it sent a sane one
	gen  [24]byte // else ours, in hex
}

func (st *requestState) id() string {
	if st.sent != "" {
		return st.sent
	}
	return string(st.gen[:])
}

// Middleware gives each request an id (the client's X-Request-Id when it
// sent a sane one, echoed back; otherwise a fresh one, used in logs only, so
// that answers to clients that send none stay byte-identical to EPR's) and
// logs one access line per request at info level, with EPR's ECS field
// names. /health is not logged, as in EPR (probes would drown the log).
func Middleware(log *slog.Logger, next http.Handler) http.Handler {
	// serve's own text logger (NewBuffered) takes the access line as
	// bytes: the same line slog writes, without its record.
	fast, _ := log.Handler().(flushing)
	infoOn := fast.levelKnown && fast.level <= slog.LevelInfo
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// net/http canonicalizes the keys it reads: the map as is, without
		// Get's canonicalization of ours.
		var id string
		if v := r.Header[RequestIDHeader]; len(v) > 0 {
			id = v[0]
		}
		sent := validID(id)
		if sent {
			w.Header()[RequestIDHeader] = []string{id}
		}
		logged := r.URL.Path != "/health" && (infoOn || !fast.levelKnown && log.Enabled(r.Context(), slog.LevelInfo))
		if !sent && !logged {
			next.ServeHTTP(w, r) // nothing to carry: no per-request cost
			return
		}
		st := &requestState{recorder: recorder{ResponseWriter: w}}
		if sent {
			st.sent = id
		} else {
			putID(&st.gen)
		}
		if !logged {
			next.ServeHTTP(st, r)
			return
		}
		start := time.Since(clockBase) // the monotonic clock alone
		rw := &st.recorder
		next.ServeHTTP(st, r)
		if rw.status == 0 {
			rw.status = http.StatusOK
		}
		// net.SplitHostPort allocates its error for a Host without a
		// port; the outcome is the same: the host whole, no port.
		host, port := r.Host, ""
		if strings.IndexByte(r.Host, ':') >= 0 {
			var err error
			if host, port, err = splitHostPort(r.Host); err != nil || host == "" {
				host = r.Host
			}
		}
		src, _, _ := splitHostPort(r.RemoteAddr)
		// One clock reading for the duration and the line's time (slog
		// would read it again a few hundred ns later).
		end := time.Now()
		l := accessLine{id: st.sent, method: r.Method, path: r.URL.Path, host: host, status: rw.status, bytes: rw.bytes,
			dur: end.Sub(clockBase) - start, src: src, ua: r.UserAgent(), query: r.URL.RawQuery}
		if port != "" {
			if p, err := strconv.Atoi(port); err == nil {
				l.port, l.hasPort = p, true
			}
		}
		if !sent {
			l.genID = &st.gen
		}
		if fast.text && fast.root {
			bp := linePool.Get().(*[]byte)
			*bp = l.appendText((*bp)[:0], end, r.Method, r.URL.Path, r.Proto)
			fast.b.Write(*bp)
			linePool.Put(bp)
			return
		}
		l.id = st.id()
		msg := r.Method + " " + r.URL.Path + " " + r.Proto
		log.LogAttrs(r.Context(), slog.LevelInfo, msg, l.attrs()...)
	})
}

// splitHostPort is net.SplitHostPort, without its work for the usual
// host:port with one colon and no brackets (an IPv4 address, a name).
func splitHostPort(s string) (host, port string, err error) {
	if i := strings.IndexByte(s, ':'); i >= 0 && strings.IndexByte(s[i+1:], ':') < 0 && strings.IndexAny(s, "[]") < 0 {
		return s[:i], s[i+1:], nil
	}
	return net.SplitHostPort(s)
}

// clockBase makes a request's start a monotonic clock reading alone:
// time.Since(clockBase) reads one clock where time.Now reads two (the
// wall clock too), 70 ns each on this project's virtual machines; the
// line's time needs the wall clock once, at the end.
var clockBase = time.Now()

// accessLine is what an access line says.
type accessLine struct {
	id, method, path, host, src, ua, query string
	genID                                  *[24]byte // the id, when ours (then id is ""): appendText takes it as is
	status                                 int
	bytes                                  int64
	dur                                    time.Duration
	port                                   int
	hasPort                                bool
}

// attrs are the line's attributes, in order, with EPR's ECS names.
func (l *accessLine) attrs() []slog.Attr {
	attrs := append(make([]slog.Attr, 0, 14),
		slog.String("log.logger", "http"),
		slog.String("http.request.id", l.id),
		slog.String("http.request.method", l.method),
		slog.String("url.path", l.path),
		slog.String("url.domain", l.host),
		slog.Int("http.response.status_code", l.status),
		slog.Int("http.response.code", l.status), // EPR's name for it
		slog.Int64("http.response.body.bytes", l.bytes),
		slog.Int64("event.duration", l.dur.Nanoseconds()),
		slog.String("source.address", l.src),
		slog.String("source.ip", l.src),
	)
	if l.ua != "" {
		attrs = append(attrs, slog.String("user_agent.original", l.ua))
	}
	if l.query != "" {
		attrs = append(attrs, slog.String("url.query", l.query))
	}
	if l.hasPort {
		attrs = append(attrs, slog.Int("url.port", l.port))
	}
	return attrs
}

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// appendText appends the line as slog's TextHandler writes the record of
// the message "METHOD PATH PROTO" at info level at time t with attrs()
// (TestAccessLineAsSlogWritesIt compares the two over hostile values).
func (l *accessLine) appendText(b []byte, t time.Time, method, path, proto string) []byte {
	b = append(b, "time="...)
	b = appendRFC3339Millis(b, t.Round(0))
	b = append(b, " level=INFO msg="...)
	// The message holds spaces, so slog quotes it; quoting is per rune,
	// so the parts quote one by one without building the message.
	b = append(b, '"')
	b = appendQuotedInner(b, method)
	b = append(b, ' ')
	b = appendQuotedInner(b, path)
	b = append(b, ' ')
	b = appendQuotedInner(b, proto)
	b = append(b, '"')
	b = appendTextString(append(b, " log.logger="...), "http")
	if l.genID != nil {
		b = append(append(b, " http.request.id="...), l.genID[:]...) // hex digits: never quoted
	} else {
		b = appendTextString(append(b, " http.request.id="...), l.id)
	}
	b = appendTextString(append(b, " http.request.method="...), l.method)
	b = appendTextString(append(b, " url.path="...), l.path)
	b = appendTextString(append(b, " url.domain="...), l.host)
	b = strconv.AppendInt(append(b, " http.response.status_code="...), int64(l.status), 10)
	b = strconv.AppendInt(append(b, " http.response.code="...), int64(l.status), 10)
	b = strconv.AppendInt(append(b, " http.response.body.bytes="...), l.bytes, 10)
	b = strconv.AppendInt(append(b, " event.duration="...), l.dur.Nanoseconds(), 10)
	b = appendTextString(append(b, " source.address="...), l.src)
	b = appendTextString(append(b, " source.ip="...), l.src)
	if l.ua != "" {
		b = appendTextString(append(b, " user_agent.original="...), l.ua)
	}
	if l.query != "" {
		b = appendTextString(append(b, " url.query="...), l.query)
	}
	if l.hasPort {
		b = strconv.AppendInt(append(b, " url.port="...), int64(l.port), 10)
	}
	return append(b, '\n')
}

// appendRFC3339Millis is slog's time format: RFC 3339 with exactly three
// digits of milliseconds. The date, time to the second and zone are
// formatted once per second (and location) and kept.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	sec, loc := t.Unix(), t.Location()
	c := secondCache.Load()
	if c == nil || c.sec != sec || c.loc != loc {
		full := t.Truncate(time.Second).AppendFormat(nil, time.RFC3339)
		cut := bytes.IndexByte(full, 'T') + len("15:04:05") + 1
		c = &formattedSecond{sec: sec, loc: loc, head: full[:cut], zone: full[cut:]}
		secondCache.Store(c)
	}
	ms := t.Nanosecond() / 1e6
	b = append(b, c.head...)
	b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	return append(b, c.zone...)
}

// formattedSecond is one second's RFC 3339 text around the fraction.
type formattedSecond struct {
	sec        int64
	loc        *time.Location
	head, zone []byte // "2006-01-02T15:04:05", "Z07:00"
}

var secondCache atomic.Pointer[formattedSecond]

// appendTextString is slog's text handler's string: as is, or quoted
// (strconv) when it is empty or holds a space, '=', '"', a control
// character, or a rune that is not printable.
func appendTextString(b []byte, s string) []byte {
	if needsQuoting(s) {
		b = append(b, '"')
		b = appendQuotedInner(b, s)
		return append(b, '"')
	}
	return append(b, s...)
}

// appendQuotedInner appends strconv.Quote(s) without its quotes: s itself
// when it is printable ASCII without '"' or '\\' (most values).
func appendQuotedInner(b []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		return append(b, s...)
	}
	n := len(b)
	b = strconv.AppendQuote(b, s)
	copy(b[n:], b[n+1:len(b)-1])
	return b[:len(b)-2]
}

func needsQuoting(s string) bool {
	if len(s) == 0 {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c != '\\' && (c == ' ' || c == '=' || c == '"' || c < 0x20) {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
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
	var d [24]byte
	putID(&d)
	return string(d[:])
}

// putID writes a new id into dst.
func putID(dst *[24]byte) {
	var b [16]byte
	binary.BigEndian.PutUint64(b[8:], idCounter.Add(1))
	copy(b[4:10], idPrefix[:]) // the counter's low 48 bits stay
	hex.Encode(dst[:], b[4:])
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
