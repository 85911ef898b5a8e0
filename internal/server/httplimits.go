package server

import (
	"net/http"
	"time"

	"github.com/spf13/pflag"
)

// HTTPLimits bound what one client can hold or send. Zero fields take the
// defaults.
type HTTPLimits struct {
	// ReadHeaderTimeout closes a connection whose request headers do not
	// arrive in time (slowloris).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request; publish uploads get
	// UploadTimeout instead.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing an answer (a 250 MB zip to a slow
	// client included).
	WriteTimeout time.Duration
	// IdleTimeout closes idle keep-alive connections.
	IdleTimeout time.Duration
	// UploadTimeout bounds one publish request.
	UploadTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers: over it,
	// net/http answers 431.
	MaxHeaderBytes int
	// MaxURILength bounds the request target (path and query): over it,
	// 414.
	MaxURILength int
	// ShutdownGrace is how long in-flight requests and publications may
	// take to finish at shutdown.
	ShutdownGrace time.Duration
}

// DefaultHTTPLimits are generous for Fleet and publishers, small for abuse.
var DefaultHTTPLimits = HTTPLimits{
	ReadHeaderTimeout: 10 * time.Second,
	ReadTimeout:       time.Minute,
	WriteTimeout:      10 * time.Minute,
	IdleTimeout:       2 * time.Minute,
	UploadTimeout:     15 * time.Minute,
	MaxHeaderBytes:    64 << 10,
	MaxURILength:      8 << 10,
	ShutdownGrace:     20 * time.Second,
}

// withDefaults fills zero fields.
func (l HTTPLimits) withDefaults() HTTPLimits {
	d := DefaultHTTPLimits
	set := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	set(&l.ReadHeaderTimeout, d.ReadHeaderTimeout)
	set(&l.ReadTimeout, d.ReadTimeout)
	set(&l.WriteTimeout, d.WriteTimeout)
	set(&l.IdleTimeout, d.IdleTimeout)
	set(&l.UploadTimeout, d.UploadTimeout)
	set(&l.ShutdownGrace, d.ShutdownGrace)
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if l.MaxURILength <= 0 {
		l.MaxURILength = d.MaxURILength
	}
	return l
}

// AddFlags registers the limits' flags with their defaults.
func (l *HTTPLimits) AddFlags(fs *pflag.FlagSet) {
	d := DefaultHTTPLimits
	fs.DurationVar(&l.ReadHeaderTimeout, "read-header-timeout", d.ReadHeaderTimeout, "time allowed for a request's headers to arrive")
	fs.DurationVar(&l.ReadTimeout, "read-timeout", d.ReadTimeout, "time allowed to read a whole request (publish uploads: --upload-timeout)")
	fs.DurationVar(&l.WriteTimeout, "write-timeout", d.WriteTimeout, "time allowed to write an answer")
	fs.DurationVar(&l.IdleTimeout, "idle-timeout", d.IdleTimeout, "idle keep-alive connections are closed after this")
	fs.DurationVar(&l.UploadTimeout, "upload-timeout", d.UploadTimeout, "time allowed for one publish request")
	fs.IntVar(&l.MaxHeaderBytes, "max-header-bytes", d.MaxHeaderBytes, "largest request line and headers (431 over it)")
	fs.IntVar(&l.MaxURILength, "max-uri-length", d.MaxURILength, "longest request path and query (414 over it)")
	fs.DurationVar(&l.ShutdownGrace, "shutdown-grace", d.ShutdownGrace, "time in-flight requests and publications get to finish at shutdown")
}

// limitURI answers 414 to a request target longer than max.
func limitURI(max int, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.RequestURI) > max {
			http.Error(w, "request URI too long", http.StatusRequestURITooLong)
			return
		}
		next.ServeHTTP(w, r)
	})
}
