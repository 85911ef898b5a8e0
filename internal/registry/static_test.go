package registry_test

import (
	"net/http"
	"pkgstore/internal/api"
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
