package registry_test

import (
	"strings"
	"testing"

	"pkgstore/internal/registry"
)

// TestParsePublicURL: serve --public-url takes an absolute http(s) URL,
// optionally with the path the store is mounted at; anything a browser or
// Kibana could not use as a base is refused at start.
func TestParsePublicURL(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{"https://epr.example.com", "https://epr.example.com", ""},
		{"https://epr.example.com/", "https://epr.example.com", ""},
		{"http://10.0.0.5:8080/registry/", "http://10.0.0.5:8080/registry", ""},
		{"https://[::1]:8443", "https://[::1]:8443", ""},
		{"epr.example.com", "", "want an http:// or https:// URL"},
		{"ftp://epr.example.com", "", "want an http:// or https:// URL"},
		{"https://", "", "no host"},
		{"https://user:pw@epr.example.com", "", "no credentials"},
		{"https://epr.example.com/?a=b", "", "no credentials, query or fragment"},
		{"https://epr.example.com/#x", "", "no credentials, query or fragment"},
		{"https://epr.example.com/\"><script>", "", ""},
	} {
		got, err := registry.ParsePublicURL(tc.in)
		switch {
		case tc.in == "https://epr.example.com/\"><script>":
			// url.Parse escapes what it keeps: never markup in the snippet.
			if err == nil && strings.ContainsAny(got, "<>\"") {
				t.Errorf("%q: %q keeps markup", tc.in, got)
			}
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %q %v, want an error saying %q", tc.in, got, err, tc.err)
			}
		case err != nil || got != tc.want:
			t.Errorf("%q: %q %v, want %q", tc.in, got, err, tc.want)
		}
	}
}
