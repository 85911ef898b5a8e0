package httpenc

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// minCompressSize is the smallest body worth compressing: below it the
// coding's framing eats the gain.
const minCompressSize = 256

// Shared header values; each slice has len == cap so that a handler
// appending to one gets a copy instead of writing into the shared array.
var (
	varyAcceptEncoding = []string{"Accept-Encoding"}
	encodingHeader     = [numCodings][]string{Gzip: {"gzip"}, Zstd: {"zstd"}, Brotli: {"br"}}
)

// Body is an immutable response body with its compressed variants, each
// produced at most once, on the first request that asks for it. It is safe
// for concurrent use; keep one per rendered answer (the registry keeps them
// per index snapshot, which is their invalidation).
type Body struct {
	raw      []byte
	hash     string // hex prefix of sha256(raw), the ETag's root
	effort   Effort
	variants [numCodings]variant
}

// Effort is how hard a Body's variants are compressed.
type Effort uint8

const (
	// Best is for a body kept and served many times: the slower, smaller
	// settings pay for themselves (gzip 9, zstd's best, brotli 7).
	Best Effort = iota
	// Fast is for a body served once or a few times and then dropped:
	// the fastest settings (gzip 1, zstd's fastest, brotli 1), a few
	// milliseconds a megabyte, so that an answer no cache keeps costs about
	// its rendering, not a multiple of it.
	Fast
)

// other is the other effort: a client may hold the body compressed at it.
func (e Effort) other() Effort {
	if e == Fast {
		return Best
	}
	return Fast
}

// String names the effort.
func (e Effort) String() string {
	if e == Fast {
		return "fast"
	}
	return "best"
}

type variant struct {
	once sync.Once
	data []byte   // nil: the coding did not make the body smaller
	etag []string // strong, distinct per coding
	clen []string
}

// New wraps raw, which must not be modified afterwards, for a body that is
// kept and served many times: its variants are compressed with Best.
func New(raw []byte) *Body { return NewEffort(raw, Best) }

// NewEffort is New with the variants compressed at effort e. Their ETags
// differ from the other effort's (the bytes do), but a client holding
// either revalidates with either: the content is the same.
func NewEffort(raw []byte, e Effort) *Body {
	sum := sha256.Sum256(raw)
	b := &Body{raw: raw, hash: hex.EncodeToString(sum[:12]), effort: e}
	id := &b.variants[Identity]
	id.once.Do(func() {
		id.data = raw
		id.etag = []string{`"` + b.hash + `"`}
		id.clen = []string{strconv.Itoa(len(raw))}
	})
	return b
}

// Effort returns the effort the body's variants are compressed with.
func (b *Body) Effort() Effort { return b.effort }

// Bytes returns the uncompressed body.
func (b *Body) Bytes() []byte { return b.raw }

// Size returns the bytes held: the body and the variants produced so far.
func (b *Body) Size() int {
	n := len(b.raw)
	for c := Coding(1); c < numCodings; c++ {
		n += len(b.variants[c].data)
	}
	return n
}

// ETag returns the strong entity tag of the body in coding c (identity
// when c does not make it smaller).
func (b *Body) ETag(c Coding) string {
	_, v := b.variant(c)
	return v.etag[0]
}

// Encoded returns the body in coding c, compressing it on first use, and
// the coding actually used: Identity when c would not make it smaller.
func (b *Body) Encoded(c Coding) ([]byte, Coding) {
	c, v := b.variant(c)
	return v.data, c
}

func (b *Body) variant(c Coding) (Coding, *variant) {
	if c == Identity || c >= numCodings || len(b.raw) < minCompressSize {
		return Identity, &b.variants[Identity]
	}
	v := &b.variants[c]
	v.once.Do(func() {
		data, err := compress(c, b.effort, b.raw)
		if err != nil || len(data) >= len(b.raw) {
			return // leave data nil: identity is served instead
		}
		v.data = data
		v.etag = []string{b.etag(c, b.effort)}
		v.clen = []string{strconv.Itoa(len(data))}
	})
	if v.data == nil {
		return Identity, &b.variants[Identity]
	}
	return c, v
}

// etag is the strong entity tag of the body in coding c (not Identity)
// at effort e.
func (b *Body) etag(c Coding, e Effort) string {
	if e == Fast {
		return `"` + b.hash + "-" + c.String() + "-fast" + `"`
	}
	return `"` + b.hash + "-" + c.String() + `"`
}

// Levels by effort. Best: the body is compressed once and served many
// times, so the slower, smaller settings pay for themselves; brotli's top
// qualities would take seconds on a megabyte of JSON, on the first
// request. Fast: the fastest settings of each (5 MB of search JSON: gzip
// about 5 ms, zstd and brotli about 10 ms, against 85 to 150 ms at Best).
var (
	gzipLevel     = [...]int{Best: gzip.BestCompression, Fast: gzip.BestSpeed}
	brotliQuality = [...]int{Best: 7, Fast: 1}
	zstdLevel     = [...]zstd.EncoderLevel{Best: zstd.SpeedBestCompression, Fast: zstd.SpeedFastest}
)

var zstdEncoders = [...]func() (*zstd.Encoder, error){
	Best: zstdEncoder(Best),
	Fast: zstdEncoder(Fast),
}

func zstdEncoder(e Effort) func() (*zstd.Encoder, error) {
	return sync.OnceValues(func() (*zstd.Encoder, error) {
		return zstd.NewWriter(nil, zstd.WithEncoderLevel(zstdLevel[e]), zstd.WithEncoderConcurrency(1))
	})
}

// Compressor state is large (about 1 MB for gzip, several for brotli) and
// a cache miss compresses a 20 KB document: pool the writers, by effort,
// and size brotli's window to the body.
var (
	gzipPool   [2]sync.Pool
	brotliPool [2][25]sync.Pool // by effort, then window size, log2
)

// brotliWindow is the smallest window (log2, 10 to 24) that holds n bytes.
func brotliWindow(n int) int {
	w := 10
	for w < 24 && 1<<w < n {
		w++
	}
	return w
}

func compress(c Coding, e Effort, raw []byte) ([]byte, error) {
	if e != Best && e != Fast {
		return nil, fmt.Errorf("httpenc: unknown effort %d", e)
	}
	var buf bytes.Buffer
	buf.Grow(len(raw) / 4)
	switch c {
	case Gzip:
		w, _ := gzipPool[e].Get().(*gzip.Writer)
		if w == nil {
			var err error
			if w, err = gzip.NewWriterLevel(&buf, gzipLevel[e]); err != nil {
				return nil, err
			}
		} else {
			w.Reset(&buf)
		}
		if _, err := w.Write(raw); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		gzipPool[e].Put(w)
	case Zstd:
		enc, err := zstdEncoders[e]()
		if err != nil {
			return nil, err
		}
		// EncodeAll on a shared encoder is safe for concurrent use.
		return enc.EncodeAll(raw, make([]byte, 0, len(raw)/4)), nil
	case Brotli:
		lg := brotliWindow(len(raw))
		w, _ := brotliPool[e][lg].Get().(*brotli.Writer)
		if w == nil {
			w = brotli.NewWriterOptions(&buf, brotli.WriterOptions{Quality: brotliQuality[e], LGWin: lg})
		} else {
			w.Reset(&buf)
		}
		if _, err := w.Write(raw); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		brotliPool[e][lg].Put(w)
	default:
		return nil, fmt.Errorf("httpenc: unknown coding %d", c)
	}
	return buf.Bytes(), nil
}

// Serve writes the body for req. The caller sets Content-Type,
// Cache-Control and any other header first. Without Accept-Encoding and
// If-None-Match in the request it writes exactly the identity body with its
// Content-Length and nothing else; otherwise it adds Vary, ETag and
// Content-Encoding as negotiated, and answers a matching If-None-Match
// with 304.
func (b *Body) Serve(w http.ResponseWriter, req *http.Request) {
	h := w.Header()
	ae, negotiated := req.Header["Accept-Encoding"]
	inm, conditional := req.Header["If-None-Match"]
	if !negotiated && !conditional {
		h["Content-Length"] = b.variants[Identity].clen
		w.Write(b.raw)
		return
	}
	c := Identity
	if negotiated {
		if len(ae) == 1 {
			c = Negotiate(ae[0])
		} else {
			c = Negotiate(strings.Join(ae, ","))
		}
		h["Vary"] = varyAcceptEncoding
	}
	c, v := b.variant(c)
	h["Etag"] = v.etag
	if conditional && (noneMatch(inm, v.etag[0]) || c != Identity && noneMatch(inm, b.etag(c, b.effort.other()))) {
		delete(h, "Content-Type")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if c != Identity {
		h["Content-Encoding"] = encodingHeader[c]
	}
	h["Content-Length"] = v.clen
	w.Write(v.data)
}

// noneMatch reports whether an If-None-Match header matches etag, by the
// weak comparison RFC 9110 §13.1.2 prescribes for it.
func noneMatch(values []string, etag string) bool {
	for _, s := range values {
		for len(s) > 0 {
			s = strings.TrimLeft(s, " \t,")
			if s == "" {
				break
			}
			if s[0] == '*' {
				return true
			}
			s = strings.TrimPrefix(s, "W/")
			if s == "" || s[0] != '"' {
				return false // malformed: no match, serve the body
			}
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return false
			}
			if s[:end+2] == etag {
				return true
			}
			s = s[end+2:]
		}
	}
	return false
}

// NewReader decodes a body sent with Content-Encoding enc ("" or
// "identity" for none), for clients and tests of this package's answers.
func NewReader(enc string, r io.Reader) (io.ReadCloser, error) {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "", "identity":
		return io.NopCloser(r), nil
	case "gzip", "x-gzip":
		return gzip.NewReader(r)
	case "zstd":
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case "br":
		return io.NopCloser(brotli.NewReader(r)), nil
	}
	return nil, fmt.Errorf("httpenc: unsupported Content-Encoding %q", enc)
}
