package httpenc

import (
	"bytes"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzServe sends arbitrary Accept-Encoding and If-None-Match headers: the
// answer must always decode to the body, be a 304 only for an ETag the
// body really has (or *), and negotiation must be a coding we produce.
func FuzzServe(f *testing.F) {
	for _, s := range [][2]string{
		{"gzip, deflate, br", ""}, {"br;q=0.5, gzip;q=0.8", `"x"`}, {"*;q=0", "*"},
		{"identity;q=0", `W/"a", "b"`}, {"zstd;q=0.001,,;;q=", `"unterminated`}, {"GZIP;Q=1.0", `,,,`},
	} {
		f.Add(s[0], s[1])
	}
	body := New([]byte(strings.Repeat(`{"name":"aws","version":"2.0.0"},`, 40)))
	f.Fuzz(func(t *testing.T, accept, inm string) {
		c := Negotiate(accept)
		if c >= numCodings {
			t.Fatalf("Negotiate(%q) = %d", accept, c)
		}
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Accept-Encoding", accept)
		if inm != "" {
			req.Header.Set("If-None-Match", inm)
		}
		w := httptest.NewRecorder()
		body.Serve(w, req)
		etag := w.Header().Get("Etag")
		if w.Code == 304 {
			if !strings.Contains(inm, "*") && !strings.Contains(inm, strings.Trim(etag, `"`)) {
				t.Fatalf("304 for If-None-Match %q, ETag %s", inm, etag)
			}
			return
		}
		r, err := NewReader(w.Header().Get("Content-Encoding"), bytes.NewReader(w.Body.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, body.Bytes()) {
			t.Fatalf("Accept-Encoding %q: body does not decode to the original (%v)", accept, err)
		}
	})
}
