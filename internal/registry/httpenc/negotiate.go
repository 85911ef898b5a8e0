// Package httpenc serves in-memory response bodies with HTTP content
// negotiation: each body is compressed at most once per coding (gzip, zstd,
// brotli), chosen per request from Accept-Encoding, with strong ETags that
// differ per coding and If-None-Match answered with 304.
//
// A request without Accept-Encoding and without If-None-Match gets exactly
// the bytes and headers an uncompressed handler would send (no Vary, no
// ETag): the registry's answers to such clients must stay identical to
// EPR's.
package httpenc

import (
	"strconv"
	"strings"
)

// Coding is a content coding this package can produce.
type Coding uint8

// The codings, in the server's order of preference when a client rates
// several equally (smallest output first).
const (
	Identity Coding = iota
	Brotli
	Zstd
	Gzip
	numCodings
)

// preference is the order ties are broken in.
var preference = [...]Coding{Brotli, Zstd, Gzip, Identity}

// String returns the coding's Content-Encoding token ("identity" for none).
func (c Coding) String() string {
	switch c {
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	case Brotli:
		return "br"
	}
	return "identity"
}

// Negotiate picks the coding for an Accept-Encoding header value (RFC 9110
// §12.5.3): the highest q-value among the codings offered wins, ties go to
// the smallest output; "*" rates every coding not named; identity is
// acceptable unless refused by "identity;q=0" (or "*;q=0" without naming
// it). When nothing is acceptable it still returns Identity: an
// uncompressed answer is better than a 406 for every client seen in
// practice. An empty header means identity.
func Negotiate(accept string) Coding {
	if accept == "" {
		return Identity
	}
	var q [numCodings]int // q-value in thousandths; -1 = not named
	for i := range q {
		q[i] = -1
	}
	star := -1
	for len(accept) > 0 {
		var part string
		part, accept, _ = strings.Cut(accept, ",")
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		qv := parseQ(params)
		if qv < 0 {
			continue // malformed q: ignore the element, as if not sent
		}
		switch name {
		case "*":
			star = max(star, qv)
		case "gzip", "x-gzip":
			q[Gzip] = max(q[Gzip], qv)
		case "zstd":
			q[Zstd] = max(q[Zstd], qv)
		case "br":
			q[Brotli] = max(q[Brotli], qv)
		case "identity":
			q[Identity] = max(q[Identity], qv)
		}
	}
	for c := range q {
		if q[c] < 0 {
			switch {
			case star >= 0:
				q[c] = star
			case Coding(c) == Identity:
				q[c] = 1 // identity is acceptable unless refused
			default:
				q[c] = 0
			}
		}
	}
	best, bestQ := Identity, 0
	for _, c := range preference {
		if q[c] > bestQ {
			best, bestQ = c, q[c]
		}
	}
	return best
}

// parseQ returns the q parameter of an Accept-Encoding element in
// thousandths (1000 when absent), or -1 when it is malformed.
func parseQ(params string) int {
	for len(params) > 0 {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, ok := strings.Cut(p, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || f > 1 {
			return -1
		}
		return int(f*1000 + 0.5)
	}
	return 1000
}
