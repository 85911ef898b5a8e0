package registry_test

import (
	"bytes"
	"io"
	"slices"
	"testing"

	"pkgstore/internal/registry/httpenc"
)

// TestCompressedAnswers checks the negotiated JSON routes against their own
// uncompressed answers: a client that sends no Accept-Encoding gets exactly
// what it got before compression existed (the EPR comparison relies on
// it); one that asks gets the same bytes encoded, with Vary, a strong ETag
// per coding and 304 on revalidation.
func TestCompressedAnswers(t *testing.T) {
	r := eprStore(t).store.URL
	for _, url := range []string{
		"/", "/index.json",
		"/search", "/search?all=true&prerelease=true", "/search?package=example",
		"/categories", "/categories?include_policy_templates=true",
		"/package/example/1.0.1/",
	} {
		t.Run(url, func(t *testing.T) {
			plain := get(t, r, "GET", url, nil)
			if plain.Code != 200 {
				t.Fatalf("%d %s", plain.Code, plain.Body)
			}
			ph := plain.Header()
			for _, k := range []string{"Vary", "Etag", "Content-Encoding"} {
				if v := ph.Get(k); v != "" {
					t.Errorf("without Accept-Encoding: %s: %q (must stay as EPR answers)", k, v)
				}
			}
			if ph.Get("Content-Length") != itoa(plain.Body.Len()) {
				t.Errorf("Content-Length %q for %d bytes", ph.Get("Content-Length"), plain.Body.Len())
			}
			tags := map[string]bool{}
			for _, tc := range []struct{ accept, enc string }{
				{"gzip", "gzip"}, {"zstd", "zstd"}, {"br", "br"},
				{"gzip, deflate, br", "br"}, {"identity", ""}, {"gzip;q=0", ""},
			} {
				w := get(t, r, "GET", url, map[string]string{"Accept-Encoding": tc.accept})
				h := w.Header()
				enc := h.Get("Content-Encoding")
				if url == "/" || url == "/index.json" {
					tc.enc = "" // too small to gain from a coding
				}
				if w.Code != 200 || enc != tc.enc || h.Get("Vary") != "Accept-Encoding" {
					t.Errorf("%q: %d Content-Encoding %q Vary %q, want %q", tc.accept, w.Code, enc, h.Get("Vary"), tc.enc)
					continue
				}
				for _, k := range []string{"Content-Type", "Access-Control-Allow-Origin"} {
					if h.Get(k) != ph.Get(k) {
						t.Errorf("%q: %s %q, uncompressed %q", tc.accept, k, h.Get(k), ph.Get(k))
					}
				}
				if !slices.Equal(h["Cache-Control"], ph["Cache-Control"]) {
					t.Errorf("%q: Cache-Control %q, uncompressed %q", tc.accept, h["Cache-Control"], ph["Cache-Control"])
				}
				dr, err := httpenc.NewReader(enc, bytes.NewReader(w.Body.Bytes()))
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(dr)
				if err != nil || !bytes.Equal(got, plain.Body.Bytes()) {
					t.Errorf("%q: decoded body differs from the uncompressed answer (%v)", tc.accept, err)
				}
				if enc != "" && (w.Body.Len() >= plain.Body.Len() || plain.Body.Len() > 4096 && w.Body.Len()*3 > plain.Body.Len()) {
					t.Errorf("%q: %d bytes for %d uncompressed", tc.accept, w.Body.Len(), plain.Body.Len())
				}
				etag := h.Get("Etag")
				if len(etag) < 3 || etag[0] != '"' {
					t.Fatalf("%q: ETag %q", tc.accept, etag)
				}
				tags[etag+enc] = true
				nm := get(t, r, "GET", url, map[string]string{"Accept-Encoding": tc.accept, "If-None-Match": etag})
				if nm.Code != 304 || nm.Body.Len() != 0 || nm.Header().Get("Etag") != etag {
					t.Errorf("%q If-None-Match: %d %v", tc.accept, nm.Code, nm.Header())
				}
			}
			if want := 4; url != "/" && url != "/index.json" && len(tags) != want {
				t.Errorf("%d distinct ETags/codings %v, want %d", len(tags), tags, want)
			}
		})
	}
	// Errors are never negotiated.
	w := get(t, r, "GET", "/search?kibana.version=x", map[string]string{"Accept-Encoding": "gzip"})
	if w.Code != 400 || w.Header().Get("Content-Encoding") != "" || w.Header().Get("Etag") != "" {
		t.Errorf("bad query: %d %v", w.Code, w.Header())
	}
}
