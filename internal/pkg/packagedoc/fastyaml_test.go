package packagedoc

import (
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	yamlv2 "gopkg.in/yaml.v2"

	"pkgstore/internal/testkit/sharedtest"
)

// fastYAMLCases are documents fastYAML must read exactly as yaml.v2 does,
// or leave to it; accept tells which (true: fastYAML must read it itself).
var fastYAMLCases = []struct {
	name   string
	doc    string
	accept bool
}{
	{"empty", "", true},
	{"comments only", "# a\n  # b\n\n", true},
	{"scalars", "a: 1\nb: -2\nc: 0755\nd: 0x1F\ne: 1_000\nf: 0b101\ng: -0b11\nh: 1.5\ni: .5\nj: 1e3\nk: 9223372036854775808\nl: 18446744073709551616\nm: +1\n", true},
	{"booleans and nulls", "a: yes\nb: No\nc: on\nd: OFF\ne: y\nf: N\ng: true\nh: FALSE\ni: ~\nj: null\nk: Null\nl:\nm: nullx\nx: yesno\n", true},
	{"floats", "a: .inf\nb: -.Inf\nc: +.INF\nd: .nan\ne: .x\nf: 1.2.3\ng: 1e\nh: +.5\n", true},
	{"dotted numbers", "a: 1.2.3\nb: -1.2.3\nc: 1.2e3\nd: 1..2\ne: 1.2.3e5\nf: +.5\ng: 1_0.5\nh: 1.2.\ni: 0.1.0-beta.1\n", true},
	{"versions and timestamps", "version: 1.0.0\nformat_version: 3.0.0\nkibana: ^8.0.0\nd: 2001-12-14\ne: 2001-12-14t21:59:43.10-05:00\nf: 1:20\n", true},
	{"strings", "a: hello world\nb: http://x.y/z\nc: a#b\nd: a # comment\ne: 'it''s'\nf: \"q\\\"x\\\\y\\n\\t\"\ng: ''\nh: \"\"\ni: -x\nj: a,b[c]{d}\nk: 'a: b'\nl: \"# not a comment\"\n", true},
	{"unicode", "title: Zürich – “quoted”\n", true},
	{"dotted keys", "a.b: 1\na:\n  c: 2\n", true},
	{"quoted keys", "'a b': 1\n\"c\": 2\n'd' : 3\n", true},
	{"nested", "a:\n  b:\n    c: 1\n  d: 2\ne: 3\n", true},
	{"sequences", "a:\n  - 1\n  - x\nb:\n- y\n- z\nc: 1\nd:\n  -\n  - 2\n", true},
	{"compact mappings", "streams:\n  - input: logfile\n    vars:\n      - name: paths\n        type: text\n        multi: true\n        default:\n          - /var/log/*.log\n  - input: udp\n    enabled: false\n", true},
	{"compact mapping with indentless sequence", "- a:\n  - 1\n  b: 2\n", false},
	{"top-level sequence", "- a\n- b\n", false},
	{"flow sequences", "a: [x, 'y', \"z\", 1, true]\nb: []\nc: [ a b ]\nd: [x] # c\n", true},
	{"flow sequence trailing comma", "a: [x, ]\n", false},
	{"flow mapping", "a: {b: 1}\n", false},
	{"literal block", "a: |\n  line 1\n    more\n\n  line 3\nb: |-\n  x\n\n\nc: |+\n  y\n\n\nd: 1\n", true},
	{"folded block", "a: >\n  one\n  two\n\n  three\n    indented\n  four\nb: >-\n  x\n  y\nc: >+\n  z\n\n", true},
	{"block at end without newline", "a: |\n  x\n  y", true},
	{"block with comment header", "a: | # c\n  x\n", true},
	{"block in sequence", "a:\n  - |\n    x\n  - >\n    y\n    z\n", true},
	{"block with comment-like line", "a: |\n  # not a comment\n  x\nb: 1\n", true},
	{"block leading blank lines", "a: |\n\n  x\n", true},
	{"block more indented leading blank", "a: |\n      \n  x\n", false},
	{"block indentation indicator", "a: |2\n   x\n", false},
	{"block empty", "a: |\nb: 1\n", false},
	{"multi-line plain", "a: one\n  two\n", false},
	{"multi-line quoted", "a: 'one\n  two'\n", false},
	{"anchors", "a: &x 1\nb: *x\n", false},
	{"tags", "a: !!str 1\n", false},
	{"merge key", "a:\n  <<: {b: 1}\n", false},
	{"document marker", "---\na: 1\n", false},
	{"tab", "a:\t1\n", false},
	{"carriage return", "a: 1\r\n", false},
	{"line separator", "a: \u2028\n", false},
	{"paragraph separator", "a: x\u2029y\n", false},
	{"next line", "a: x\u0085y\n", false},
	{"duplicate key", "a: 1\na: 2\n", false},
	{"bool key", "a:\n  yes: 1\n", false},
	{"int key", "1: a\n", false},
	{"bad indentation", "a:\n    b: 1\n  c: 2\n", false},
	{"mapping value in plain", "a: b: c\n", false},
	{"scalar on its own line", "a:\n  b\n", false},
	{"unknown escape", "a: \"\\q\"\n", false},
	{"slash escape", "a: \"\\/\"\n", false},
	{"boolean keys", "n: 1\n", false},
	{"numeric escape", "a: \"\\u00e9\"\n", false},
	{"emoji", "a: 🙂\n", false},
	{"top-level indented", "  a: 1\n", false},
	{"complex key", "? a\n: 1\n", false},
	{"nested sequence item", "a:\n  - - 1\n", false},
	{"deep", strings.Repeat("a:\n", 1) + deepDoc(100), false},
}

func deepDoc(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%sk:\n", strings.Repeat(" ", i+1))
	}
	return b.String()
}

// yamlEqual compares decoded YAML values, NaN equal to NaN.
func yamlEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) || (x == nil) != (y == nil) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !yamlEqual(v, w) {
				return false
			}
		}
		return true
	case map[any]any:
		y, ok := b.(map[any]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !yamlEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !yamlEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || math.IsNaN(x) && math.IsNaN(y))
	}
	return a == b
}

// checkFastYAML fails t when fastYAML reads doc otherwise than yaml.v2;
// it returns whether fastYAML read it.
func checkFastYAML(t *testing.T, name string, doc []byte) bool {
	t.Helper()
	got, ok := fastYAML(doc)
	if !ok {
		return false
	}
	var want map[string]any
	if err := yamlv2.Unmarshal(doc, &want); err != nil {
		t.Errorf("%s: fastYAML read a document yaml.v2 refuses (%v):\n%s", name, err, doc)
		return true
	}
	if !yamlEqual(got, want) {
		t.Errorf("%s: fastYAML and yaml.v2 differ:\n%#v\n%#v\ndocument:\n%s", name, got, want, doc)
	}
	return true
}

func TestFastYAMLMatchesYAMLv2(t *testing.T) {
	for _, c := range fastYAMLCases {
		t.Run(c.name, func(t *testing.T) {
			if ok := checkFastYAML(t, c.name, []byte(c.doc)); ok != c.accept {
				t.Errorf("fastYAML read it itself: %t, want %t", ok, c.accept)
			}
		})
	}
}

// TestFastYAMLOnPackages reads every YAML file of the v1 sample and of
// EPR's test packages both ways: the same values, and fastYAML reads
// nearly all of them itself (else it saves nothing).
func TestFastYAMLOnPackages(t *testing.T) {
	roots := []string{
		filepath.Join(sharedtest.UnpackV1(t), "packages"),
		filepath.Join(sharedtest.Dir(t), "testdata", "epr-packages"),
	}
	var manifests, fast, all int
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
				return err
			}
			doc, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			all++
			ok := checkFastYAML(t, p, doc)
			if d.Name() == "manifest.yml" {
				manifests++
				if ok {
					fast++
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d YAML files; fastYAML read %d of %d manifests itself", all, fast, manifests)
	if manifests < 500 || fast*100 < manifests*95 {
		t.Errorf("fastYAML read %d of %d manifests itself, want at least 95%%", fast, manifests)
	}
}

func FuzzFastYAML(f *testing.F) {
	for _, c := range fastYAMLCases {
		f.Add([]byte(c.doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if len(doc) > 1<<16 {
			return
		}
		checkFastYAML(t, "fuzz", doc)
	})
}

// TestFastYAMLLinear: a manifest at the 4 MB bound, made of the shapes
// that make a careless reader go over lines again (long runs of blank and
// comment lines between keys, block scalars, nesting to the limit), is
// read in time linear in its size (a generous bound, on a loaded machine).
func TestFastYAMLLinear(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < maxManifestSize-64<<10; i++ {
		fmt.Fprintf(&b, "k%d:\n%s", i, strings.Repeat("\n  # c\n", 50))
		for d := range maxFastDepth - 1 {
			fmt.Fprintf(&b, "%sk:\n", strings.Repeat(" ", d+1))
		}
		fmt.Fprintf(&b, "%sv: |\n%s", strings.Repeat(" ", maxFastDepth), strings.Repeat(strings.Repeat(" ", maxFastDepth+2)+"x\n\n", 20))
	}
	doc := []byte(b.String())
	start := time.Now()
	if _, ok := fastYAML(doc); !ok {
		t.Fatal("fastYAML left the document to yaml.v2")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("fastYAML took %v for %d bytes", took, len(doc))
	}
}
