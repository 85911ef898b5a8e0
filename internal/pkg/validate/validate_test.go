package validate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

const goodManifest = `format_version: 3.6.0
name: sample
title: Sample
description: A sample package
version: 1.0.0
type: input
owner:
  github: elastic/integrations
  type: elastic
conditions:
  kibana:
    version: "^8.13.0"
policy_templates:
  - name: sample
    type: logs
    title: Sample
    description: Sample logs
    input: logfile
    template_path: input.yml.hbs
`

const goodChangelog = `- version: 1.0.0
  changes:
    - description: First release
      type: enhancement
      link: https://github.com/elastic/integrations/pull/1
`

// inputPackage returns a small valid input package, with overrides applied
// (an empty value deletes the file).
func inputPackage(over map[string]string) fstest.MapFS {
	files := map[string]string{
		"manifest.yml":              goodManifest,
		"changelog.yml":             goodChangelog,
		"docs/README.md":            "# Sample\n",
		"agent/input/input.yml.hbs": "paths:\n{{#each paths}}\n  - {{this}}\n{{/each}}\n",
	}
	for k, v := range over {
		if v == "" {
			delete(files, k)
		} else {
			files[k] = v
		}
	}
	m := fstest.MapFS{}
	for k, v := range files {
		m[k] = &fstest.MapFile{Data: []byte(v)}
	}
	return m
}

func run(t *testing.T, fsys fstest.MapFS, opts Options) []string {
	t.Helper()
	probs, err := Package(context.Background(), fsys, opts)
	if err != nil {
		t.Fatalf("Package: %v", err)
	}
	var out []string
	for _, p := range probs {
		out = append(out, p.String())
	}
	return out
}

func TestPackageSmallCases(t *testing.T) {
	cases := []struct {
		name string
		over map[string]string
		opts Options
		want string // substring of some problem; "" means valid
	}{
		{name: "valid", want: ""},
		{name: "no manifest", over: map[string]string{"manifest.yml": ""}, want: "no package manifest file found"},
		{name: "malformed manifest", over: map[string]string{"manifest.yml": "name: [unclosed\n"}, want: "can't parse package manifest"},
		{name: "unknown format version", over: map[string]string{"manifest.yml": strings.Replace(goodManifest, "3.6.0", "3.6.99", 1)},
			want: `spec version "3.6.99" not found`},
		{name: "unreleased spec on GA package", over: map[string]string{"manifest.yml": strings.Replace(goodManifest, "3.6.0", "3.7.0", 1)},
			want: "is using an unreleased version of the spec (3.7.0-next) (PSR00001)"},
		{name: "PSR00001 excluded", over: map[string]string{
			"manifest.yml":   strings.Replace(goodManifest, "3.6.0", "3.7.0", 1),
			"validation.yml": "errors:\n  exclude_checks: [PSR00001]\n"}, want: ""},
		{name: "missing changelog", over: map[string]string{"changelog.yml": ""}, want: "expecting to find [changelog.yml] file in folder [.]"},
		{name: "changelog out of date", over: map[string]string{"manifest.yml": strings.Replace(goodManifest, "version: 1.0.0", "version: 1.0.1", 1)},
			want: "current manifest version doesn't have changelog entry"},
		{name: "bad owner type", over: map[string]string{"manifest.yml": strings.Replace(goodManifest, "type: elastic", "type: nobody", 1)},
			want: `field owner.type: owner.type must be one of the following: "elastic", "partner", "community"`},
		{name: "dotted keys refused from 3.0.0", over: map[string]string{"manifest.yml": strings.Replace(goodManifest, "conditions:\n  kibana:\n    version:", "conditions:\n  kibana.version:", 1)},
			want: "field conditions: Additional property kibana.version is not allowed"},
		{name: "template missing", over: map[string]string{"agent/input/input.yml.hbs": "", "agent/input/other.yml.hbs": "a: b\n"},
			want: `references template_path "input.yml.hbs": template file not found`},
		{name: "bad handlebars", over: map[string]string{"agent/input/input.yml.hbs": "{{#if x}}\nfoo\n"},
			want: "Expecting OpenEndBlock, got: 'EOF'"},
		{name: "unknown folder entry", over: map[string]string{"docs/notes.txt": "x"}, want: "item [notes.txt] is not allowed in folder [docs]"},
		{name: "dev folder refused in build mode", over: map[string]string{"_dev/build/build.yml": "dependencies:\n  ecs:\n    reference: git@v8.0.0\n"},
			opts: Options{Mode: ModeBuild}, want: "source-only folder is not allowed in build packages"},
		{name: "link refused in build mode", over: map[string]string{"agent/input/extra.yml.hbs.link": "../../docs/README.md 00\n"},
			opts: Options{Mode: ModeBuild}, want: ".link files are not allowed in built packages"},
		{name: "link checksum", over: map[string]string{"agent/input/extra.yml.hbs.link": "../../docs/README.md 00\n"},
			want: "linked file extra.yml.hbs.link is not up to date"},
		{name: "empty readme", over: map[string]string{"docs/README.md": " "}, want: ""},
		{name: "input kibana version", over: map[string]string{"manifest.yml": strings.Replace(goodManifest, "^8.13.0", "^8.0.0", 1)},
			want: "conditions.kibana.version must be ^8.8.0 or greater"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, inputPackage(tc.over), tc.opts)
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("want valid, got:\n%s", strings.Join(got, "\n"))
				}
				return
			}
			if !strings.Contains(strings.Join(got, "\n"), tc.want) {
				t.Fatalf("want a problem containing %q, got:\n%s", tc.want, strings.Join(got, "\n"))
			}
		})
	}
}

func TestPackageCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Package(ctx, inputPackage(nil), Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

func TestPackageBadMode(t *testing.T) {
	if _, err := Package(context.Background(), inputPackage(nil), Options{Mode: "strict"}); err == nil {
		t.Fatal("want an error for an unknown mode")
	}
}

func TestWarningsAsErrors(t *testing.T) {
	// Source mode adds a technical-preview warning, reported only as an error
	// when warnings are errors.
	if got := run(t, inputPackage(nil), Options{Mode: ModeSource}); len(got) != 0 {
		t.Fatalf("source mode: want valid, got %v", got)
	}
	got := run(t, inputPackage(nil), Options{Mode: ModeSource, WarningsAsErrors: true})
	if len(got) != 1 || !strings.Contains(got[0], "technical preview") {
		t.Fatalf("want the technical-preview warning, got %v", got)
	}
}

func TestProblemString(t *testing.T) {
	cases := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "manifest.yml", Field: "owner", Message: "type is required"}, `file "manifest.yml" is invalid: field owner: type is required`},
		{Problem{File: "kibana/tags.yml", Message: "duplicate tag name 'x' found", Code: "SVR00007"}, `file "kibana/tags.yml" is invalid: duplicate tag name 'x' found (SVR00007)`},
		{Problem{Message: "m"}, "m"},
	}
	for _, tc := range cases {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestResolveSpecVersion(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"3.7.0", "3.7.0-next", true},
		{"1.1.0", "1.1.0", true},
		{"3.6.6", "3.6.6", true},
		{"3.7.0-next", "", false},
		{"3.6.7", "", false},
		{"0.9.0", "", false},
	}
	for _, tc := range cases {
		got, ok := resolveSpecVersion(mustVer(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("resolveSpecVersion(%s) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if n := len(SpecVersions()); n != 79 {
		t.Errorf("want 79 spec versions, got %d", n)
	}
}

func TestKibanaAtLeast(t *testing.T) {
	cases := []struct {
		c, min string
		want   bool
	}{
		{"^8.8.0", "8.8.0", true},
		{"^8.10.0 || ^9.0.0", "8.8.0", true},
		{"^8.7.0 || ^9.0.0", "8.8.0", false},
		{"", "8.8.0", false},
		{">=7.16.0", "8.8.0", false},
	}
	for _, tc := range cases {
		if got := kibanaAtLeast(tc.c, tc.min); got != tc.want {
			t.Errorf("kibanaAtLeast(%q, %q) = %v, want %v", tc.c, tc.min, got, tc.want)
		}
	}
}

func TestHandlebars(t *testing.T) {
	cases := []struct {
		src     string
		wantErr string
	}{
		{"{{#if a}}x{{else}}y{{/if}}", ""},
		{"{{!-- {{#if --}}plain", ""},
		{"{{{raw}}} {{#each l}}{{this}}{{/each}}", ""},
		{"line1\n{{#if a}}\nline3", "Parse error on line 3:\nExpecting OpenEndBlock, got: 'EOF'"},
		{"{{#if a}}{{/each}}", "if doesn't match each"},
		{"{{unclosed", "Expecting 'CLOSE'"},
		{"{{/if}}", "OPEN_ENDBLOCK"},
	}
	for _, tc := range cases {
		err := checkHandlebars(tc.src)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q: unexpected error %v", tc.src, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: want error containing %q, got %v", tc.src, tc.wantErr, err)
		}
	}
}

func TestDecodeYAMLDefensive(t *testing.T) {
	bomb := `a: &a ["x","x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]
`
	if _, _, err := decodeYAML([]byte(bomb), false); err == nil {
		t.Error("alias bomb: want an error")
	}
	if _, _, err := decodeYAML([]byte("a: [1, 2"), false); err == nil {
		t.Error("malformed YAML: want an error")
	}
	v, _, err := decodeYAML([]byte("kibana.version: x\nn: 3\nf: 1.5\nb: true\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	m := v.(map[string]any)
	if getPath(m, "kibana", "version") != "x" || m["n"] != int64(3) || m["f"] != 1.5 || m["b"] != true {
		t.Errorf("unexpected decoding: %#v", m)
	}
	if _, err := decodeJSON([]byte(`{"a":1} x`)); err == nil {
		t.Error("trailing JSON data: want an error")
	}
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	if _, err := decodeJSON([]byte(deep)); err == nil {
		t.Error("deep JSON: want an error")
	}
}
