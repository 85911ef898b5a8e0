package ui_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/server"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/ziptest"
)

// TestFleetSnippetURL: the package page's Fleet snippet took the Host
// header and X-Forwarded-Proto of any client into a page served as
// shared-cacheable ("no-cache" with an ETag, no Vary), so a cache in front
// of the store could hand one client's Host to everyone (issue 21 item 9).
// Without --public-url the reflected page is now private and varies on
// both headers, and this store's own page cache never mixes two clients'
// URLs; with --public-url the snippet shows it whatever the request says.
func TestFleetSnippetURL(t *testing.T) {
	const snippet = `xpack.fleet.registryUrl: "`
	page := func(t *testing.T, s *servertest.Store, host, proto string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, s.URL+"/ui/package/snip/1.0.0/", nil)
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		if proto != "" {
			req.Header.Set("X-Forwarded-Proto", proto)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("page: %d %s", resp.StatusCode, b)
		}
		body := string(b)
		i := strings.Index(body, snippet)
		if i < 0 {
			t.Fatalf("no Fleet snippet in the page")
		}
		rest := body[i+len(snippet):]
		return resp, rest[:strings.Index(rest, `"`)]
	}
	publish := func(t *testing.T, s *servertest.Store) {
		t.Helper()
		zip := ziptest.Package(t, "snip", "1.0.0")
		if sub := s.Publish(t, "snip-1.0.0.zip", zip, client.Options{Legacy: true}); sub.Status != api.StatusPublished {
			t.Fatalf("publish: %+v", sub)
		}
		s.WaitVisible(t, "snip", "1.0.0")
	}

	t.Run("without --public-url", func(t *testing.T) {
		s := startPlain(t, nil)
		publish(t, s)
		resp, got := page(t, s, "evil.example:443", "https")
		if got != "https://evil.example:443" {
			t.Errorf("reflected snippet %q", got)
		}
		cc, vary := resp.Header.Get("Cache-Control"), resp.Header.Get("Vary")
		if !strings.Contains(cc, "private") || !strings.Contains(vary, "Host") || !strings.Contains(vary, "X-Forwarded-Proto") {
			t.Errorf("a page reflecting Host answers Cache-Control %q, Vary %q: a shared cache may give it to others", cc, vary)
		}
		evilTag := resp.Header.Get("ETag")
		resp, got = page(t, s, "", "")
		if want := s.URL; got != want {
			t.Errorf("next client's snippet %q, want %q (the first client's Host leaked)", got, want)
		}
		if tag := resp.Header.Get("ETag"); tag == evilTag {
			t.Errorf("one ETag %s for two different pages", tag)
		}
	})

	t.Run("with --public-url", func(t *testing.T) {
		s := startPlain(t, func(c *server.Config) { c.Registry.PublicURL = "https://epr.example.com/" })
		publish(t, s)
		for _, h := range [][2]string{{"evil.example", "http"}, {"", ""}} {
			resp, got := page(t, s, h[0], h[1])
			if got != "https://epr.example.com" {
				t.Errorf("Host %q: snippet %q, want the public URL", h[0], got)
			}
			if v := resp.Header.Get("Vary"); strings.Contains(v, "Host") {
				t.Errorf("Vary %q with a public URL", v)
			}
		}
	})
}
