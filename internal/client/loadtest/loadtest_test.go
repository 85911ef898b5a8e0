package loadtest_test

import (
	"context"
	"errors"
	"net/http"
	"pkgstore/internal/api"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/client"
	"pkgstore/internal/client/loadtest"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/ziptest"
)

func TestCheckTarget(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		target string
		remote bool
		ok     bool
		isRem  bool
	}{
		{"http://127.0.0.1:8080", false, true, false},
		{"http://127.8.9.10:8080/", false, true, false},
		{"https://[::1]:8443", false, true, false},
		{"http://localhost:8080", false, true, false},
		{"http://192.0.2.1:8080", false, false, true},
		{"http://[2001:db8::1]:80", false, false, true},
		{"http://192.0.2.1:8080", true, true, false},
		{"ftp://127.0.0.1/", false, false, false},
		{"127.0.0.1:8080", false, false, false},
	} {
		err := loadtest.CheckTarget(ctx, tc.target, tc.remote)
		if (err == nil) != tc.ok || errors.Is(err, loadtest.ErrRemote) != tc.isRem {
			t.Errorf("CheckTarget(%q, %v) = %v", tc.target, tc.remote, err)
		}
	}
	if _, err := loadtest.Run(ctx, loadtest.Options{Target: "http://192.0.2.1:1", Requests: 1}); !errors.Is(err, loadtest.ErrRemote) {
		t.Errorf("Run on a remote target: %v", err)
	}
}

func TestRunAgainstStore(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Memory: true})
	for _, n := range []string{"alpha", "beta"} {
		zip := ziptest.Package(t, n, "1.0.0")
		if sub := s.Publish(t, n+"-1.0.0.zip", zip, client.Options{Legacy: true}); sub.Status != api.StatusPublished {
			t.Fatalf("%s: %+v", n, sub)
		}
		s.WaitVisible(t, n, "1.0.0")
	}
	ctx := context.Background()
	res, err := loadtest.Run(ctx, loadtest.Options{Target: s.URL, Requests: 400, Concurrency: 4, AcceptEncoding: "gzip"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 400 {
		t.Errorf("%d requests, want 400", res.Requests)
	}
	seen := map[string]bool{}
	for _, r := range res.Routes {
		seen[r.Route] = true
		if r.Non2xx != 0 || r.Errors != 0 {
			t.Errorf("%s: %d non-2xx, %d errors: %v", r.Route, r.Non2xx, r.Errors, res.FirstErrors)
		}
		if !(r.P50 > 0 && r.P50 <= r.P95 && r.P95 <= r.P99 && r.P99 <= r.Max) || r.PerSecond <= 0 || r.Bytes <= 0 {
			t.Errorf("%s: %+v", r.Route, r)
		}
	}
	for _, route := range []string{loadtest.RouteSearch, loadtest.RouteCategories, loadtest.RoutePackage, loadtest.RouteReadme, loadtest.RouteIcon, loadtest.RouteZip, loadtest.RouteSignature} {
		if !seen[route] {
			t.Errorf("route %s never exercised", route)
		}
	}
	var out strings.Builder
	res.WriteText(&out)
	if !strings.Contains(out.String(), "signature") || !strings.Contains(out.String(), "total") {
		t.Errorf("report:\n%s", out.String())
	}

	// Failures are counted, not hidden; a duration ends the run.
	tg := loadtest.Targets{loadtest.RoutePackage: {"/package/alpha/1.0.0/", "/package/missing/1.0.0/", "/package/alpha/1.0.0"}}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err = loadtest.Drive(ctx, noFollow, s.URL, tg, loadtest.Options{Duration: 300 * time.Millisecond, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Routes) != 1 || res.Routes[0].Non2xx == 0 || res.Routes[0].Non2xx == res.Routes[0].Requests || len(res.FirstErrors) == 0 || !strings.Contains(strings.Join(res.FirstErrors, " "), "HTTP 301") && !strings.Contains(strings.Join(res.FirstErrors, " "), "HTTP 404") {
		t.Errorf("missing package: %+v %v", res.Routes, res.FirstErrors)
	}
	if res.Elapsed > 2*time.Second {
		t.Errorf("a 300ms run took %v", res.Elapsed)
	}
}
