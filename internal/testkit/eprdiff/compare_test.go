package eprdiff

import (
	"net/http"
	"os"
	"strings"
	"testing"
)

func TestExplain(t *testing.T) {
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name string
		a, b Answer
		want string // substring; "" means identical
	}{
		{"identical", Answer{200, h("Content-Type", "application/json"), []byte(`{"a":1}`)}, Answer{200, h("Content-Type", "application/json"), []byte(`{"a":1}`)}, ""},
		{"status", Answer{Status: 404}, Answer{Status: 400}, "status 404, reference 400"},
		{"header", Answer{200, h("Cache-Control", "max-age=1"), nil}, Answer{200, h("Cache-Control", "max-age=2"), nil}, `Cache-Control "max-age=1", reference "max-age=2"`},
		{"header absent", Answer{200, h(), nil}, Answer{200, h("Access-Control-Allow-Origin", "*"), nil}, `Access-Control-Allow-Origin "", reference "*"`},
		{"date ignored", Answer{200, h("Date", "x"), nil}, Answer{200, h("Date", "y"), nil}, ""},
		{"deviation ignored", Answer{200, h("Etag", `"1"`), nil}, Answer{200, h(), nil}, ""},
		{"chunked vs length", Answer{200, h("Content-Length", "5"), nil}, Answer{200, h(), nil}, ""},
		{"length differs", Answer{200, h("Content-Length", "5"), nil}, Answer{200, h("Content-Length", "6"), nil}, `Content-Length "5", reference "6"`},
		{"json path", Answer{Status: 200, Body: []byte(`{"a":[{"b":1,"c.d":2}]}`)}, Answer{Status: 200, Body: []byte(`{"a":[{"b":1,"c.d":3}]}`)}, `$.a[0]["c.d"]: 2, reference 3`},
		{"json missing key", Answer{Status: 200, Body: []byte(`{"a":1}`)}, Answer{Status: 200, Body: []byte(`{"a":1,"b":true}`)}, `$.b: missing, reference true`},
		{"json extra key", Answer{Status: 200, Body: []byte(`{"a":1,"z":null}`)}, Answer{Status: 200, Body: []byte(`{"a":1}`)}, `$.z: null, absent in reference`},
		{"json length", Answer{Status: 200, Body: []byte(`[1,2]`)}, Answer{Status: 200, Body: []byte(`[1]`)}, `$: 2 elements, reference 1`},
		{"json order", Answer{Status: 200, Body: []byte(`{"a":1,"b":2}`)}, Answer{Status: 200, Body: []byte(`{"b":2,"a":1}`)}, "same JSON value, different bytes"},
		{"text", Answer{Status: 404, Body: []byte("not found\n")}, Answer{Status: 404, Body: []byte("not found.\n")}, "first difference at byte 9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.a.Header == nil {
				tc.a.Header = http.Header{}
			}
			if tc.b.Header == nil {
				tc.b.Header = http.Header{}
			}
			got := Explain(&tc.a, &tc.b)
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("Explain = %q, want %q", got, tc.want)
			}
		})
	}
}

// recorder is a testing.TB that keeps errors instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Errorf(f string, a ...any) { r.errs = append(r.errs, f) }

func TestExpect(t *testing.T) {
	rep := &Report{Diffs: []Diff{
		{Request{Target: "/a"}, "body: $.x.division: 1, absent in reference"},
		{Request{Target: "/b"}, "status 404, reference 400"},
	}}
	tests := []struct {
		name  string
		known Known
		errs  int
	}{
		{"none known", Known{}, 2},
		{"all known", Known{Requests: map[string]string{"GET /b": "r"}, Patterns: map[string]string{"division": "r"}}, 0},
		{"stale request", Known{Requests: map[string]string{"GET /b": "r", "GET /c": "r"}, Patterns: map[string]string{"division": "r"}}, 1},
		{"stale pattern", Known{Requests: map[string]string{"GET /a": "r", "GET /b": "r"}, Patterns: map[string]string{"nothing": "r"}}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			rep.Expect(r, tc.known)
			if len(r.errs) != tc.errs {
				t.Errorf("%d errors %v, want %d", len(r.errs), r.errs, tc.errs)
			}
		})
	}
}

// TestDeviationsDocumented checks that every deviation the comparison
// ignores is listed in docs/registry.md's table of deliberate deviations.
func TestDeviationsDocumented(t *testing.T) {
	data, err := os.ReadFile("../../../docs/registry.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	start := strings.Index(doc, "## Deliberate deviations from the reference")
	if start < 0 {
		t.Fatal("docs/registry.md has no section \"Deliberate deviations from the reference\"")
	}
	section := doc[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	var want []string
	for h := range Deviations {
		want = append(want, "`"+h+"` header")
	}
	for target := range BodyDeviations {
		want = append(want, "`"+target+"` body")
	}
	// Ignored by headerDiff when only one side sends it.
	want = append(want, "`Content-Length` vs chunked")
	for _, w := range want {
		// Header names are case-insensitive (Go writes Etag, the doc ETag).
		if !strings.Contains(strings.ToLower(section), strings.ToLower(w)) {
			t.Errorf("docs/registry.md's deviations do not list %s", w)
		}
	}
}
