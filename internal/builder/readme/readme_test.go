package readme

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pkgstore/internal/testkit/treetest"
)

const testManifest = "format_version: 3.0.0\nname: t\ntitle: T\nversion: 1.0.0\ntype: integration\n"

// renderOne writes files into a new package folder, with template as
// _dev/build/docs/README.md, and renders it.
func renderOne(t *testing.T, files map[string]string, template string, opts Options) (string, error) {
	t.Helper()
	dir := t.TempDir()
	all := map[string]string{"manifest.yml": testManifest, "_dev/build/docs/README.md": template}
	for k, v := range files {
		all[k] = v
	}
	treetest.Write(t, dir, all)
	r, err := New(dir, opts)
	if err != nil {
		return "", err
	}
	b, err := r.Render(context.Background(), "README.md")
	return string(b), err
}

func TestFieldsTable(t *testing.T) {
	tests := []struct {
		name   string
		fields string
		want   string
	}{
		{"none", "", "**Exported fields**\n\n(no fields available)\n"},
		{"groups flattened, sorted, escaped", `
- name: b
  type: group
  fields:
    - name: x.y
      type: keyword
      description: "Has *stars* and {braces} <tags>\nand lines. "
- name: a
  type: long
  description: First.
- name: empty
  type: group
`, "**Exported fields**\n\n| Field | Description | Type |\n|---|---|---|\n| a | First. | long |\n| b.x.y | Has \\*stars\\* and \\{braces\\} \\<tags\\> and lines. | keyword |\n"},
		{"units, metric types, runtime, multi-fields", `
- name: bytes
  type: long
  unit: byte
- name: load
  type: double
  metric_type: gauge
  runtime: "emit(1)"
- name: msg
  type: keyword
  multi_fields:
    - name: text
      type: match_only_text
`, "**Exported fields**\n\n| Field | Description | Type | Unit | Metric Type |\n|---|---|---|---|---|\n| bytes |  | long | byte |  |\n| load |  | double (runtime) |  | gauge |\n| msg |  | keyword |  |  |\n| msg.text | Multi-field of `msg`. | match_only_text |  |  |\n"},
		{"a name defined twice: one row, the definition elastic-package's sort leaves first (the last, in short lists)", `
- name: a
  type: keyword
  description: One.
- name: a
  type: long
  description: Two.
`, "**Exported fields**\n\n| Field | Description | Type |\n|---|---|---|\n| a | Two. | long |\n"},
		{"fields as a mapping: children named after their parent nest, others go up a level", `
- name: set
  type: group
  fields:
    inner:
      type: group
      fields:
        inner.x:
          type: long
        up:
          type: keyword
    other:
      type: ip
`, "**Exported fields**\n\n| Field | Description | Type |\n|---|---|---|\n| set.inner.x |  | long |\n| set.other |  | ip |\n| set.up |  | keyword |\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			if tc.fields != "" {
				files["data_stream/ds/fields/f.yml"] = tc.fields
			}
			got, err := renderOne(t, files, `{{ fields "ds" }}`, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestFieldsErrors(t *testing.T) {
	tests := []struct {
		name, fields, want string
		is                 error
	}{
		{"external without a resolver", "- name: host.name\n  external: ecs\n", "f.yml", ErrExternalUnresolved},
		{"not a list", "name: a\ntype: keyword\n", "f.yml", nil},
		{"not YAML", "- name: [a\n", "f.yml", nil},
		{"bad runtime", "- name: a\n  type: long\n  runtime: {x: 1}\n", "runtime must be", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := renderOne(t, map[string]string{"data_stream/ds/fields/f.yml": tc.fields}, `{{ fields "ds" }}`, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("err = %v, want one mentioning %q (is %v)", err, tc.want, tc.is)
			}
		})
	}
}

// mapFields resolves external fields from a fixed set of definitions, the
// way an ECS schema does: the package's keys override, type stays.
type mapFields map[string]map[string]any

func (m mapFields) Inject(_ context.Context, _ string, defs []any) ([]any, error) {
	out := make([]any, 0, len(defs))
	for _, d := range defs {
		def := d.(map[string]any)
		if def["external"] == nil {
			out = append(out, def)
			continue
		}
		name := def["name"].(string)
		src, ok := m[name]
		if !ok {
			return nil, errors.New("field definition not found: " + name)
		}
		f := map[string]any{}
		for k, v := range src {
			f[k] = v
		}
		for k, v := range def {
			if k != "type" {
				f[k] = v
			}
		}
		out = append(out, f)
	}
	return out, nil
}

func TestFieldsExternal(t *testing.T) {
	ext := mapFields{
		"host.name":  {"name": "host.name", "type": "keyword", "description": "Name of the host."},
		"email.atts": {"name": "email.atts", "type": "nested", "description": "Attachments."},
		"group.only": {"name": "group.only", "type": "group", "description": "A group."},
	}
	fields := "- name: host.name\n  external: ecs\n- name: email.atts\n  external: ecs\n  description: Overridden.\n- name: group.only\n  external: ecs\n"
	got, err := renderOne(t, map[string]string{"data_stream/ds/fields/ecs.yml": fields}, `{{ fields "ds" }}`, Options{Fields: ext})
	if err != nil {
		t.Fatal(err)
	}
	want := "**Exported fields**\n\n| Field | Description | Type |\n|---|---|---|\n| email.atts | Overridden. | nested |\n| group.only | A group. | group |\n| host.name | Name of the host. | keyword |\n"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	if _, err := renderOne(t, map[string]string{"data_stream/ds/fields/ecs.yml": "- name: nope\n  external: ecs\n"}, `{{ fields "ds" }}`, Options{Fields: ext}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown external field: err = %v", err)
	}
}

func TestEvent(t *testing.T) {
	event := `{"b":"<x> & y","a":[1, 2]}`
	tests := []struct {
		name     string
		format   string
		files    map[string]string
		template string
		want     string
	}{
		{"as written from 2.12.0", "3.0.0", map[string]string{"data_stream/web_logs/sample_event.json": event}, `{{ event "web_logs" }}`,
			"An example event for `web` looks as following:\n\n```json\n{\n    \"b\": \"<x> & y\",\n    \"a\": [\n        1,\n        2\n    ]\n}\n```"},
		{"HTML escaped before 2.12.0", "2.11.0", map[string]string{"data_stream/web_logs/sample_event.json": event}, `{{ event "web_logs" }}`,
			"An example event for `web` looks as following:\n\n```json\n{\n    \"b\": \"\\u003cx\\u003e \\u0026 y\",\n    \"a\": [\n        1,\n        2\n    ]\n}\n```"},
		{"first sample_event_*.json", "3.0.0", map[string]string{"data_stream/m/sample_event_b.json": `{"b":1}`, "data_stream/m/sample_event_a.json": `{"a":1}`}, `{{ event "m" }}`,
			"An example event for `m` looks as following:\n\n```json\n{\n    \"a\": 1\n}\n```"},
		{"package level", "3.0.0", map[string]string{"sample_event.json": "{}\n"}, `{{ event }}`,
			"An example event looks as following:\n\n```json\n{}\n```"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"manifest.yml": strings.Replace(testManifest, "3.0.0", tc.format, 1)}
			for k, v := range tc.files {
				files[k] = v
			}
			got, err := renderOne(t, files, tc.template, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	for name, files := range map[string]map[string]string{
		"no event":       {},
		"not JSON":       {"data_stream/m/sample_event.json": "{"},
		"no format":      {"manifest.yml": "name: t\n", "data_stream/m/sample_event.json": "{}"},
		"format invalid": {"manifest.yml": "format_version: x.y\n", "data_stream/m/sample_event.json": "{}"},
	} {
		t.Run("fails: "+name, func(t *testing.T) {
			if _, err := renderOne(t, files, `{{ event "m" }}`, Options{}); err == nil {
				t.Fatal("rendered")
			}
		})
	}
}

func TestURL(t *testing.T) {
	table := "links:\n  guide: https://example.com/guide\n"
	tests := []struct {
		name     string
		files    map[string]string // below the repository root; the package is pkg/
		env      string            // ELASTIC_PACKAGE_LINKS_FILE_PATH, relative to the root
		template string
		want     string
		fails    string
	}{
		{"plain", map[string]string{LinksFileName: table}, "", `{{ url "guide" }}`, "https://example.com/guide", ""},
		{"caption", map[string]string{LinksFileName: table}, "", `{{ url "guide" "The guide" }}`, "[The guide](https://example.com/guide)", ""},
		{"from the variable", map[string]string{"other.yml": table}, "other.yml", `{{ url "guide" }}`, "https://example.com/guide", ""},
		{"unknown key", map[string]string{LinksFileName: table}, "", `{{ url "nope" }}`, "", "link key not found: nope"},
		{"no table", nil, "", `{{ url "guide" }}`, "", "link key not found: guide"},
		{"no key", map[string]string{LinksFileName: table}, "", `{{ url }}`, "", "needs a link key"},
		{"variable names a missing file", nil, "missing.yml", `{{ url "guide" }}`, "", LinksFileEnv},
		{"table not YAML", map[string]string{LinksFileName: "links: [\n"}, "", `{{ url "guide" }}`, "", "links table"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			treetest.Write(t, root, tc.files)
			treetest.Write(t, root, map[string]string{"pkg/manifest.yml": testManifest, "pkg/_dev/build/docs/README.md": tc.template})
			env := ""
			if tc.env != "" {
				env = filepath.Join(root, tc.env)
			}
			t.Setenv(LinksFileEnv, env)
			rs, err := RenderAll(context.Background(), filepath.Join(root, "pkg"), Options{RepoRoot: root})
			if tc.fails != "" {
				if err == nil || !strings.Contains(err.Error(), tc.fails) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.fails)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := string(rs[0].Content); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestInputDocsEmbedded(t *testing.T) {
	docs, err := inputDocs()
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) < 19 {
		t.Fatalf("%d input docs embedded, want the 19 elastic-package ships", len(docs))
	}
	for _, d := range docs {
		if d.Name == "" || strings.TrimSpace(d.Documentation) == "" {
			t.Errorf("input doc %+v lacks a name or documentation", d.Name)
		}
	}
	got, err := renderOne(t, map[string]string{
		"data_stream/a/manifest.yml": "streams:\n  - input: tcp\n  - input: filestream\n",
		"data_stream/b/manifest.yml": "streams:\n  - input: tcp\n  - input: no-docs-for-this\n",
		"data_stream/c/manifest.yml": "not: [yaml\n",
	}, `{{ inputDocs }}`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, "These inputs can be used with this integration:\n<details>\n<summary>filestream</summary>\n") ||
		strings.Count(got, "<summary>") != 2 || !strings.Contains(got, "<summary>tcp</summary>") {
		t.Errorf("inputDocs gave:\n%s", got)
	}
	if got, err := renderOne(t, nil, `[{{ inputDocs }}][{{ ilm }}][{{ transform }}][{{ alertRuleTemplates }}][{{ sloTemplates }}]`, Options{}); err != nil || got != "[][][][][]" {
		t.Errorf("a package without inputs, policies, transforms or templates: %q, %v", got, err)
	}
}

func TestUpdateAndCheck(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	treetest.Write(t, dir, map[string]string{
		"manifest.yml":              testManifest,
		"_dev/build/docs/README.md": "# T\n{{ generatedHeader }}\n",
		"_dev/build/docs/other.md":  "other\n",
		"_dev/build/docs/notes.txt": "not a template",
	})
	if out, err := Check(ctx, dir, Options{}); err != nil || len(out) != 2 || !out[0].Missing || out[0].Name != "README.md" || out[1].Name != "other.md" {
		t.Fatalf("before rendering: %+v, %v", out, err)
	}
	rs, err := Update(ctx, dir, Options{})
	if err != nil || len(rs) != 2 {
		t.Fatalf("Update: %v, %v", rs, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "docs", "README.md"))
	if err != nil || string(b) != "# T\n"+GeneratedHeader+"\n" {
		t.Fatalf("docs/README.md = %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "docs", "notes.txt")); !os.IsNotExist(err) {
		t.Errorf("a non-.md file was rendered")
	}
	if out, err := Check(ctx, dir, Options{}); err != nil || len(out) != 0 {
		t.Fatalf("after rendering: %+v, %v", out, err)
	}
	treetest.Write(t, dir, map[string]string{"docs/other.md": "other\nmore\n"})
	out, err := Check(ctx, dir, Options{})
	if err != nil || len(out) != 1 || out[0].Line != 2 || out[0].Have != "more\n" || out[0].Want != "" {
		t.Fatalf("README with a line too many: %+v, %v", out, err)
	}
	if s := out[0].String(); !strings.Contains(s, "docs/other.md is outdated: line 2") {
		t.Errorf("message %q", s)
	}

	// A template that fails: nothing is written, not even the ones before it.
	treetest.Write(t, dir, map[string]string{"_dev/build/docs/README.md": "changed\n", "_dev/build/docs/zz.md": `{{ fields "x" "y" "z" | nope }}`})
	if _, err := Update(ctx, dir, Options{}); err == nil || !strings.Contains(err.Error(), "zz.md") {
		t.Fatalf("Update with a broken template: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "docs", "README.md")); string(b) == "changed\n" {
		t.Error("README.md was written although zz.md failed")
	}
	if _, err := Check(ctx, dir, Options{}); err == nil {
		t.Error("Check with a broken template succeeded")
	}
}

func TestDataStreamNamesStayInside(t *testing.T) {
	outside := map[string]string{"secret/fields/f.yml": "- name: secret\n  type: keyword\n", "secret/sample_event.json": "{}"}
	for _, tmpl := range []string{`{{ fields "../../secret" }}`, `{{ event "../../secret" }}`, `{{ fields ".." }}`, `{{ event "a/b" }}`} {
		if got, err := renderOne(t, outside, tmpl, Options{}); err == nil || !strings.Contains(err.Error(), "must be the name of a folder in data_stream/") {
			t.Errorf("%s: %q, %v", tmpl, got, err)
		}
	}
}

func TestRenderRefusesPaths(t *testing.T) {
	r, err := New(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "../x.md", "a/b.md", `a\b.md`} {
		if _, err := r.Render(context.Background(), name); err == nil {
			t.Errorf("Render(%q) succeeded", name)
		}
	}
}

// TestFieldsTableLinkedFiles: a fields file that is a *.link (the shared
// ECS field lists of a repository) is part of the table, as in the built
// package; a link whose target changed is refused, naming it.
func TestFieldsTableLinkedFiles(t *testing.T) {
	shared := "- name: process.pid\n  type: long\n  description: Process id.\n"
	sum := sha256.Sum256([]byte(shared))
	link := "../../../shared/pid.yml " + hex.EncodeToString(sum[:]) + "\n"
	files := map[string]string{
		"shared/pid.yml":                     shared,
		"data_stream/ds/fields/own.yml":      "- name: own\n  type: keyword\n  description: Ours.\n",
		"data_stream/ds/fields/pid.yml.link": link,
	}
	got, err := renderOne(t, files, `{{fields "ds"}}`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := "**Exported fields**\n\n| Field | Description | Type |\n|---|---|---|\n| own | Ours. | keyword |\n| process.pid | Process id. | long |\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	files["shared/pid.yml"] = shared + "- name: process.ppid\n  type: long\n"
	if _, err := renderOne(t, files, `{{fields "ds"}}`, Options{}); err == nil || !strings.Contains(err.Error(), "pid.yml.link") || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("changed link target: %v, want a checksum error naming the link", err)
	}
}
