package elasticpackagetest

import (
	"strings"
	"testing"

	"pkgstore/internal/testkit/treetest"
)

func TestCompare(t *testing.T) {
	cases := []struct {
		name      string
		want, got map[string]string
		diffs     []string // Diff.String() prefixes, in order
	}{
		{name: "same bytes", want: map[string]string{"a.txt": "x"}, got: map[string]string{"a.txt": "x"}},
		{name: "YAML as data", want: map[string]string{"m.yml": "a: 1\nb: [x, y]\n"}, got: map[string]string{"m.yml": "b:\n  - x\n  - y\na: 1.0\n"}},
		{name: "JSON as data", want: map[string]string{"o.json": `{"a":1,"b":{"c":"<"}}`}, got: map[string]string{"o.json": "{\n  \"b\": {\"c\": \"\\u003c\"},\n  \"a\": 1.0\n}"}},
		{name: "YAML value differs", want: map[string]string{"m.yml": "a:\n  b: 1\n"}, got: map[string]string{"m.yml": "a:\n  b: 2\n"}, diffs: []string{"content m.yml: $.a.b: want 1, got 2"}},
		{name: "list length", want: map[string]string{"m.yml": "- 1\n- 2\n"}, got: map[string]string{"m.yml": "- 1\n"}, diffs: []string{"content m.yml: $: want 2 items, got 1"}},
		{name: "embedded JSON strings compare as strings", want: map[string]string{"d.json": `{"p":"{\"a\":1}"}`}, got: map[string]string{"d.json": `{"p":"{\"a\": 1}"}`}, diffs: []string{"content d.json: $.p"}},
		{name: "bytes differ", want: map[string]string{"r.md": "abc"}, got: map[string]string{"r.md": "abd"}, diffs: []string{"content r.md: bytes differ (3 vs 3 bytes; first difference at byte 2)"}},
		{name: "missing and extra", want: map[string]string{"a": "1", "b": "2"}, got: map[string]string{"b": "2", "c": "3"}, diffs: []string{"missing a", "extra c"}},
		{name: "unparsable YAML", want: map[string]string{"m.yml": "a: 1\n"}, got: map[string]string{"m.yml": "a: [\n"}, diffs: []string{"content m.yml: not comparable as YAML"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, g := t.TempDir(), t.TempDir()
			treetest.Write(t, w, tc.want)
			treetest.Write(t, g, tc.got)
			diffs, n, err := Compare(w, g)
			if err != nil {
				t.Fatal(err)
			}
			if n != len(tc.want) {
				t.Errorf("files = %d, want %d", n, len(tc.want))
			}
			if len(diffs) != len(tc.diffs) {
				t.Fatalf("diffs %v, want %v", diffs, tc.diffs)
			}
			for i, d := range diffs {
				if !strings.HasPrefix(d.String(), tc.diffs[i]) {
					t.Errorf("diff %q, want prefix %q", d, tc.diffs[i])
				}
			}
		})
	}
}
