package registry_test

import (
	"io"
	"net/http"
	"pkgstore/internal/api"
	"slices"
	"testing"

	"pkgstore/internal/client"
	"pkgstore/internal/registry"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/ziptest"
)

// TestStaticFilesCarryCSP: every static package file, a hostile SVG above
// all, is served with a policy that keeps it from running script when it is
// opened directly; documents and artifacts are left as EPR serves them.
func TestStaticFilesCarryCSP(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Memory: true})
	zip := ziptest.Package(t, "hostile", "1.0.0", ziptest.Entry{
		Name: "img/evil.svg",
		Body: []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>`),
	})
	if sub := s.Publish(t, "hostile-1.0.0.zip", zip, client.Options{Legacy: true}); sub.Status != api.StatusPublished {
		t.Fatalf("publish: %s %+v", sub.Status, sub.Reasons)
	}
	s.WaitVisible(t, "hostile", "1.0.0")

	tests := []struct {
		path    string
		wantCSP string
	}{
		{"/package/hostile/1.0.0/img/evil.svg", registry.StaticCSP},
		{"/package/hostile/1.0.0/img/icon.svg", registry.StaticCSP},
		{"/package/hostile/1.0.0/docs/README.md", registry.StaticCSP},
		{"/package/hostile/1.0.0/", ""},
		{"/epr/hostile/hostile-1.0.0.zip", ""},
		{"/search?package=hostile", ""},
	}
	for _, tc := range tests {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			req, err := http.NewRequest(method, s.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s %s: status %d", method, tc.path, resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Security-Policy"); got != tc.wantCSP {
				t.Errorf("%s %s: Content-Security-Policy %q, want %q", method, tc.path, got, tc.wantCSP)
			}
		}
	}
}

// TestPathUnderStaticFile: a path that takes a static file for a folder
// (/package/N/V/docs/README.md/x) is a missing static file: the same 404
// as any other missing file of the revision (EPR's "resource not found",
// its public cache headers), on folders as on cloud buckets. Folders used
// to answer 500 (the file system's "not a directory").
func TestPathUnderStaticFile(t *testing.T) {
	for _, memory := range []bool{false, true} {
		name := "folders"
		if memory {
			name = "memory"
		}
		t.Run(name, func(t *testing.T) {
			s := servertest.Start(t, servertest.Options{Memory: memory})
			zip := ziptest.Package(t, "under", "1.0.0")
			if sub := s.Publish(t, "under-1.0.0.zip", zip, client.Options{Legacy: true}); sub.Status != api.StatusPublished {
				t.Fatalf("publish: %s %+v", sub.Status, sub.Reasons)
			}
			s.WaitVisible(t, "under", "1.0.0")
			base := s.URL + "/package/under/1.0.0/"
			get := func(method, path string) (*http.Response, string) {
				t.Helper()
				req, err := http.NewRequest(method, base+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				return resp, string(b)
			}
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				want, wantBody := get(method, "docs/missing.md")
				if want.StatusCode != http.StatusNotFound || (method == http.MethodGet && wantBody != "resource not found\n") {
					t.Fatalf("%s missing file: %d %q", method, want.StatusCode, wantBody)
				}
				for _, p := range []string{
					"docs/README.md/x",
					"docs/README.md/x/y",
					"manifest.yml/x",
					"img/icon.svg/a.svg",
					"docs/README.md/README.md",
				} {
					got, body := get(method, p)
					if got.StatusCode != want.StatusCode || body != wantBody {
						t.Errorf("%s %s: %d %q, want %d %q", method, p, got.StatusCode, body, want.StatusCode, wantBody)
					}
					for _, h := range []string{"Cache-Control", "Content-Type", "Content-Security-Policy", "X-Content-Type-Options", "Access-Control-Allow-Origin", "Content-Length"} {
						if g, w := got.Header.Values(h), want.Header.Values(h); !slices.Equal(g, w) {
							t.Errorf("%s %s: %s %q, want %q", method, p, h, g, w)
						}
					}
				}
			}
		})
	}
}
