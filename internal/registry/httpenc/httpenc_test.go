package httpenc

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct {
		accept string
		want   Coding
	}{
		{"", Identity},
		{"gzip", Gzip},
		{"x-gzip", Gzip},
		{"GZIP", Gzip},
		{"gzip, deflate, br", Brotli},       // Fleet's Node client: tie, smallest wins
		{"gzip, deflate, br, zstd", Brotli}, // browsers
		{"gzip;q=1.0, br;q=0.5", Gzip},      // q-values beat preference
		{"br;q=0.2, zstd;q=0.9, gzip;q=0.5", Zstd},
		{"deflate", Identity},   // not offered
		{"*", Brotli},           // any coding
		{"*;q=0.5, gzip", Gzip}, // named beats star
		{"*;q=0", Identity},     // nothing acceptable: identity anyway
		{"identity", Identity},
		{"identity;q=0, gzip;q=0.1", Gzip},
		{"gzip;q=0", Identity}, // refused
		{"gzip;q=0.001", Gzip},
		{"gzip;q=abc", Identity}, // malformed q ignores the element
		{"gzip;q=2", Identity},   // out of range
		{"gzip ; q=0.8 , identity;q=0.9", Identity},
		{" , ,gzip", Gzip},
		{"gzip;level=1", Gzip}, // unknown parameter
		{"identity;q=0.5, *;q=0", Identity},
	} {
		if got := Negotiate(tc.accept); got != tc.want {
			t.Errorf("Negotiate(%q) = %v, want %v", tc.accept, got, tc.want)
		}
	}
}

func decode(t *testing.T, enc string, data []byte) []byte {
	t.Helper()
	r, err := NewReader(enc, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s: %v", enc, err)
	}
	return out
}

func serve(b *Body, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "/x", nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	w.Header().Set("Content-Type", "application/json")
	b.Serve(w, req)
	return w
}

func TestServe(t *testing.T) {
	raw := []byte(strings.Repeat(`{"name":"nginx","version":"1.5.0","title":"Nginx"},`, 200))
	b := New(raw)
	plain := serve(b, nil)
	if plain.Code != 200 || !bytes.Equal(plain.Body.Bytes(), raw) {
		t.Fatalf("plain: %d", plain.Code)
	}
	// Without Accept-Encoding nothing may be added to what a plain handler sends.
	if got := len(plain.Header()); got != 2 || plain.Header().Get("Content-Length") != "10200" {
		t.Errorf("plain headers %v", plain.Header())
	}
	etags := map[string]string{}
	for _, tc := range []struct{ accept, enc string }{
		{"identity", ""},
		{"gzip", "gzip"},
		{"zstd", "zstd"},
		{"br", "br"},
		{"gzip, deflate, br", "br"},
		{"deflate", ""},
	} {
		w := serve(b, map[string]string{"Accept-Encoding": tc.accept})
		h := w.Header()
		if w.Code != 200 || h.Get("Content-Encoding") != tc.enc || h.Get("Vary") != "Accept-Encoding" {
			t.Errorf("%q: %d %v", tc.accept, w.Code, h)
			continue
		}
		if h.Get("Content-Length") != strconv.Itoa(w.Body.Len()) {
			t.Errorf("%q: Content-Length %s for %d bytes", tc.accept, h.Get("Content-Length"), w.Body.Len())
		}
		if tc.enc != "" && w.Body.Len() >= len(raw)/4 {
			t.Errorf("%q: %d bytes, not compressed", tc.accept, w.Body.Len())
		}
		if got := decode(t, tc.enc, w.Body.Bytes()); !bytes.Equal(got, raw) {
			t.Errorf("%q: decoded body differs", tc.accept)
		}
		etag := h.Get("ETag")
		if !strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, "W/") {
			t.Errorf("%q: ETag %q is not strong", tc.accept, etag)
		}
		if prev, ok := etags[tc.enc]; ok && prev != etag {
			t.Errorf("%q: ETag %q, earlier %q for the same coding", tc.accept, etag, prev)
		}
		etags[tc.enc] = etag
		// The same tag revalidates; a tag of another coding does not.
		nm := serve(b, map[string]string{"Accept-Encoding": tc.accept, "If-None-Match": `"x", ` + etag})
		if nm.Code != 304 || nm.Body.Len() != 0 || nm.Header().Get("ETag") != etag || nm.Header().Get("Content-Type") != "" {
			t.Errorf("%q If-None-Match: %d %v", tc.accept, nm.Code, nm.Header())
		}
		if nm := serve(b, map[string]string{"Accept-Encoding": tc.accept, "If-None-Match": "W/" + etag}); nm.Code != 304 {
			t.Errorf("%q: weak If-None-Match: %d, want 304 (weak comparison)", tc.accept, nm.Code)
		}
	}
	if len(etags) != 4 {
		t.Errorf("ETags %v: want one per coding", etags)
	}
	for tag := range map[string]bool{etags["gzip"]: true, etags["br"]: true, `"other"`: true, `garbage`: true} {
		if w := serve(b, map[string]string{"Accept-Encoding": "zstd", "If-None-Match": tag}); w.Code != 200 || w.Header().Get("Content-Encoding") != "zstd" {
			t.Errorf("If-None-Match %s against zstd: %d", tag, w.Code)
		}
	}
	if w := serve(b, map[string]string{"If-None-Match": "*"}); w.Code != 304 || w.Header().Get("Vary") != "" {
		t.Errorf("If-None-Match *: %d %v", w.Code, w.Header())
	}
	if w := serve(b, map[string]string{"If-None-Match": etags[""]}); w.Code != 304 {
		t.Errorf("identity ETag without Accept-Encoding: %d", w.Code)
	}
}

func TestServeSmallAndIncompressible(t *testing.T) {
	small := New([]byte(`{"service.name":"package-registry"}` + "\n"))
	w := serve(small, map[string]string{"Accept-Encoding": "gzip"})
	if w.Header().Get("Content-Encoding") != "" || w.Header().Get("Vary") != "Accept-Encoding" || w.Body.String() != string(small.Bytes()) {
		t.Errorf("small body: %v %q", w.Header(), w.Body)
	}
	noise := make([]byte, 4096)
	for i := range noise {
		noise[i] = byte(i*7919 ^ i>>3*31)
	}
	// Whatever happens to noise, the answer must decode to it.
	b := New(noise)
	for _, enc := range []string{"gzip", "zstd", "br"} {
		w := serve(b, map[string]string{"Accept-Encoding": enc})
		if !bytes.Equal(decode(t, w.Header().Get("Content-Encoding"), w.Body.Bytes()), noise) {
			t.Errorf("%s: body differs", enc)
		}
		if w.Body.Len() > len(noise) {
			t.Errorf("%s: %d bytes for %d", enc, w.Body.Len(), len(noise))
		}
	}
}

func TestServeHEAD(t *testing.T) {
	b := New(bytes.Repeat([]byte("abcdefgh"), 1000))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { b.Serve(w, r) }))
	defer srv.Close()
	req, _ := http.NewRequest("HEAD", srv.URL, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	gz, _ := b.Encoded(Gzip)
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.ContentLength != int64(len(gz)) {
		t.Errorf("HEAD: %v %d, want gzip length %d", resp.Header, resp.ContentLength, len(gz))
	}
}

// BenchmarkNewDocument is the cost of a package document's first
// compressed answer (a cache miss): one body, one coding.
func BenchmarkNewDocument(b *testing.B) {
	raw := []byte(strings.Repeat(`{"name":"nginx","version":"1.5.0","title":"Nginx","description":"Collect logs and metrics"},`+"\n", 220)) // ~20 KB
	for _, c := range []Coding{Gzip, Zstd, Brotli} {
		b.Run(c.String(), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, got := New(raw).Encoded(c); got != c {
					b.Fatal(got)
				}
			}
		})
	}
}

func TestBrotliWindow(t *testing.T) {
	for n, want := range map[int]int{0: 10, 1024: 10, 1025: 11, 20 << 10: 15, 1 << 20: 20, 300 << 20: 24} {
		if got := brotliWindow(n); got != want {
			t.Errorf("brotliWindow(%d) = %d, want %d", n, got, want)
		}
	}
}

// TestPooledCompressorsConcurrent compresses many distinct bodies of
// different sizes at once (pooled writers, per-size brotli windows): every
// answer must decode to its own body.
func TestPooledCompressorsConcurrent(t *testing.T) {
	errs := make(chan error, 64)
	for g := 0; g < 64; g++ {
		go func() {
			raw := []byte(strings.Repeat(strconv.Itoa(g)+`{"k":"v"},`, 50+g*400))
			b := New(raw)
			for _, c := range []Coding{Gzip, Brotli, Zstd} {
				data, got := b.Encoded(c)
				r, err := NewReader(got.String(), bytes.NewReader(data))
				if err != nil {
					errs <- err
					return
				}
				out, err := io.ReadAll(r)
				if err != nil || !bytes.Equal(out, raw) {
					errs <- fmt.Errorf("body %d, %s: decoded differs (%v)", g, c, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 64; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestEffort: a Fast body's variants are exactly the fast settings'
// output (gzip marks its level in the header: XFL 4 for the fastest, 2 for
// the best), tagged apart from Best's, and a client holding one effort's
// copy revalidates against the other's body.
func TestEffort(t *testing.T) {
	var sb strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&sb, `{"name":"pkg_%d","version":"1.%d.0","title":"Package %d","description":"Collect logs from service %d"},`, i%97, i%13, i, i*31)
	}
	raw := []byte(sb.String())
	fast, best := NewEffort(raw, Fast), New(raw)
	if fast.Effort() != Fast || best.Effort() != Best {
		t.Fatalf("Effort() = %v, %v", fast.Effort(), best.Effort())
	}
	for _, c := range []Coding{Gzip, Zstd, Brotli} {
		for _, tc := range []struct {
			b *Body
			e Effort
		}{{fast, Fast}, {best, Best}} {
			got, gc := tc.b.Encoded(c)
			want, err := compress(c, tc.e, raw)
			if err != nil {
				t.Fatal(err)
			}
			other, _ := compress(c, tc.e.other(), raw)
			if gc != c || !bytes.Equal(got, want) || bytes.Equal(got, other) {
				t.Errorf("%v at %v: %d bytes in %v, not the %v settings' %d bytes", c, tc.e, len(got), gc, tc.e, len(want))
			}
			if c == Gzip {
				if xfl := map[Effort]byte{Fast: 4, Best: 2}[tc.e]; got[8] != xfl {
					t.Errorf("gzip at %v: XFL %d, want %d", tc.e, got[8], xfl)
				}
			}
		}
		ft, bt := fast.ETag(c), best.ETag(c)
		if ft == bt || !strings.HasSuffix(ft, `-fast"`) || strings.Contains(bt, "fast") {
			t.Errorf("%v: ETags fast %s, best %s", c, ft, bt)
		}
		for _, tc := range []struct {
			b   *Body
			tag string
		}{{best, ft}, {fast, bt}} {
			if w := serve(tc.b, map[string]string{"Accept-Encoding": c.String(), "If-None-Match": tc.tag}); w.Code != 304 || w.Header().Get("ETag") != tc.b.ETag(c) {
				t.Errorf("%v: If-None-Match %s against the %v body: %d %v", c, tc.tag, tc.b.Effort(), w.Code, w.Header())
			}
		}
		// Another coding's tag still does not match.
		if w := serve(best, map[string]string{"Accept-Encoding": "zstd", "If-None-Match": fast.ETag(Gzip)}); c == Zstd && w.Code != 200 {
			t.Errorf("gzip fast tag against zstd: %d", w.Code)
		}
	}
	if fast.ETag(Identity) != best.ETag(Identity) {
		t.Errorf("identity ETags differ: %s %s", fast.ETag(Identity), best.ETag(Identity))
	}
}
