package registry

import (
	"math/rand/v2"
	"path"
	"slices"
	"strings"
	"testing"
)

// routePaths are fixed paths and seeded random ones over the characters
// that matter to cleaning and splitting.
func routePaths() []string {
	out := []string{"/", "", "a", "/a", "/a/", "//", "/a//b", "/.", "/..", "/./a", "/a/.", "/a/..", "/a/../b", "/..a", "/a..",
		"/.a", "/a.", "/package/nginx/1.5.0/", "/package/nginx/1.5.0/img/logo.svg", "/a/./", "/a/../", "/...", "/a/.../b"}
	rng := rand.New(rand.NewPCG(3, 4))
	const alphabet = "/./a"
	for range 20000 {
		b := make([]byte, rng.IntN(9))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		out = append(out, string(b))
	}
	return out
}

// TestCleanPathFastPath checks cleanPath against its definition (path.Clean
// keeping a trailing slash) on every path, the fast path included.
func TestCleanPathFastPath(t *testing.T) {
	for _, p := range routePaths() {
		if p == "" {
			continue // ServeHTTP makes it "/"
		}
		q := p
		if q[0] != '/' {
			q = "/" + q
		}
		want := path.Clean(q)
		if q[len(q)-1] == '/' && want != "/" {
			want += "/"
		}
		if got := cleanPath(p); got != want {
			t.Errorf("cleanPath(%q) = %q, want %q", p, got, want)
		}
	}
}

func TestSplitPathIsSplit(t *testing.T) {
	for _, p := range routePaths() {
		var buf [8]string
		if got, want := splitPath(p, buf[:0]), strings.Split(p, "/"); !slices.Equal(got, want) {
			t.Errorf("splitPath(%q) = %q, want %q", p, got, want)
		}
	}
}
