package ecs

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestUnreachableSaysSoAndHints: when the schema server cannot be reached
// (a name that does not resolve, a refused connection), the error says so
// in words, hints --ecs-base-url and file:// for air-gapped builds, is
// ErrUnreachable, and does not start with Go's raw dial error.
func TestUnreachableSaysSoAndHints(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	// A resolver whose DNS server cannot be reached: lookups fail as they
	// do on a machine without network.
	noDNS := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{Resolver: &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", closed.Listener.Addr().String())
		},
	}}).DialContext}}
	cases := []struct {
		name   string
		base   string
		client *http.Client
		words  string
	}{
		{"name does not resolve", "https://ecs.example.invalid/elastic/ecs", noDNS, "ecs.example.invalid does not resolve"},
		{"connection refused", closed.URL, nil, "refused the connection"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &Resolver{BaseURL: tc.base, CacheDir: t.TempDir(), Client: tc.client, Attempts: 2, Backoff: -1}
			_, err := r.Resolve(context.Background(), "v8.11.0")
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, want := range []string{"cannot download ECS schema v8.11.0", tc.words, "--ecs-base-url", "file://"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
			if strings.HasPrefix(msg, "download ") || strings.HasPrefix(msg, "Get ") {
				t.Errorf("error starts with the raw network error: %q", msg)
			}
			if !errors.Is(err, ErrUnreachable) {
				t.Errorf("error %v is not ErrUnreachable", err)
			}
		})
	}
}
