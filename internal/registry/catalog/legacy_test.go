package catalog

import (
	"net/url"
	"strings"
	"testing"

	"pkgstore/internal/publish/index"
)

// TestLegacyLatest pins experimental=true's latest selection and its
// all=true drop to what the reference answers (EPR 1.40.1, probed over
// package_paths and seen in the production-size differential test,
// docs/eprdiff.md): a version without a prerelease tag beats any tagged
// one, 0.x included; with all=true, tagged and 0.x versions go when the
// name has a version that is neither.
func TestLegacyLatest(t *testing.T) {
	tests := []struct {
		versions []string
		latest   string // experimental=true
		all      string // experimental=true&all=true
	}{
		{[]string{"0.2.0", "0.2.1-preview1", "0.1.0", "0.3.0-rc1", "0.2.5"}, "0.2.5", "0.1.0 0.2.0 0.2.1-preview1 0.2.5 0.3.0-rc1"},
		{[]string{"0.9.0", "1.0.0-rc1"}, "0.9.0", "0.9.0 1.0.0-rc1"},
		{[]string{"1.0.0-rc1", "0.9.0"}, "0.9.0", "0.9.0 1.0.0-rc1"},
		{[]string{"0.9.0", "1.0.0", "1.1.0-rc1"}, "1.0.0", "1.0.0"},
		{[]string{"0.9.0-beta1", "0.8.0"}, "0.8.0", "0.8.0 0.9.0-beta1"},
		{[]string{"1.0.0-rc1", "1.0.0-rc2"}, "1.0.0-rc2", "1.0.0-rc1 1.0.0-rc2"},
		{[]string{"0.1.0", "0.2.0"}, "0.2.0", "0.1.0 0.2.0"},
		{[]string{"2.0.0", "1.0.0"}, "2.0.0", "1.0.0 2.0.0"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.versions, ","), func(t *testing.T) {
			var docs []index.Entry
			for _, v := range tc.versions {
				docs = append(docs, doc("p", v, ""))
			}
			c := build(t, docs...)
			for _, q := range []struct{ query, want string }{
				{"experimental=true", tc.latest},
				{"experimental=true&all=true", tc.all},
				{"experimental=true&package=p", tc.latest},
			} {
				v, _ := url.ParseQuery(q.query)
				f, err := ParseSearch(v, true)
				if err != nil {
					t.Fatal(err)
				}
				hits, err := c.Search(f)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, h := range hits {
					got = append(got, h.Rev.ID.Version)
				}
				if g := strings.Join(got, " "); g != q.want {
					t.Errorf("%s: got %q, want %q", q.query, g, q.want)
				}
			}
		})
	}
}
