package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/client"
	"pkgstore/internal/server"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/ziptest"
)

// TestCacheDirectives: --stale-while-revalidate and --stale-if-error add
// their directives to every cacheable answer (search, categories, a
// package document, a zip, a 304) and to nothing else (404, health);
// unset, Cache-Control is EPR's two lines.
func TestCacheDirectives(t *testing.T) {
	for _, tt := range []struct {
		name            string
		revalidate, err time.Duration
		extra           string
	}{
		{"off", 0, 0, ""},
		{"both", 30 * time.Second, 24 * time.Hour, "stale-while-revalidate=30, stale-if-error=86400"},
		{"if-error only", 0, time.Hour, "stale-if-error=3600"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := servertest.Start(t, servertest.Options{Memory: true, Configure: func(c *server.Config) {
				c.StaleWhileRevalidate, c.StaleIfError = tt.revalidate, tt.err
			}})
			if sub := s.Publish(t, "cc-1.0.0.zip", ziptest.Package(t, "cc", "1.0.0"), client.Options{Legacy: true}); sub.Status != "published" {
				t.Fatalf("publish: %+v", sub)
			}
			s.WaitVisible(t, "cc", "1.0.0")
			for _, p := range []string{"/search", "/categories", "/package/cc/1.0.0/", "/epr/cc/cc-1.0.0.zip", "/"} {
				resp, err := http.Get(s.URL + p)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				cc := resp.Header.Values("Cache-Control")
				if len(cc) < 2 || !strings.HasPrefix(cc[0], "max-age=") || cc[1] != "public" {
					t.Fatalf("%s: Cache-Control %q, want EPR's two lines first", p, cc)
				}
				got := strings.Join(cc[2:], ", ")
				if got != tt.extra {
					t.Errorf("%s: extra directives %q, want %q", p, got, tt.extra)
				}
				if p == "/epr/cc/cc-1.0.0.zip" {
					etag := resp.Header.Get("ETag")
					if etag == "" {
						t.Fatalf("%s: no ETag", p)
					}
					req, _ := http.NewRequest(http.MethodGet, s.URL+p, nil)
					req.Header.Set("If-None-Match", etag)
					r2, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					r2.Body.Close()
					if r2.StatusCode != http.StatusNotModified || strings.Join(r2.Header.Values("Cache-Control")[2:], ", ") != tt.extra {
						t.Errorf("304: %d %q", r2.StatusCode, r2.Header.Values("Cache-Control"))
					}
				}
			}
			for _, p := range []string{"/package/cc/9.9.9/", "/health?verbose=true"} {
				resp, err := http.Get(s.URL + p)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if cc := strings.Join(resp.Header.Values("Cache-Control"), ", "); strings.Contains(cc, "stale-") {
					t.Errorf("%s (%d): Cache-Control %q carries stale directives", p, resp.StatusCode, cc)
				}
			}
		})
	}
}
