package packagedoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

// build builds the package made of files (docs/README.md added unless
// given; "<absent>" removes a file) and returns its document.
func build(t *testing.T, files map[string]string, opts Options) (string, error) {
	t.Helper()
	fsys := fstest.MapFS{}
	if _, ok := files["docs/README.md"]; !ok {
		fsys["docs/README.md"] = &fstest.MapFile{Data: []byte("r")}
	}
	for k, v := range files {
		if v == "<absent>" {
			delete(fsys, k)
			continue
		}
		fsys[k] = &fstest.MapFile{Data: []byte(v)}
	}
	p, err := Build(fsys, opts)
	if err != nil {
		return "", err
	}
	b, err := Marshal(p)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b), nil
}

// at returns the compact JSON, in document order, of the value at a path
// of object keys and array indexes ("policy_templates.0.name"); a dot
// inside a key is written with a backslash before it. A missing value is
// "<absent>".
func at(js string, path string) string {
	cur := json.RawMessage(js)
	for _, part := range splitPath(path) {
		var obj map[string]json.RawMessage
		if json.Unmarshal(cur, &obj) == nil {
			v, ok := obj[part]
			if !ok {
				return "<absent>"
			}
			cur = v
			continue
		}
		var arr []json.RawMessage
		i, err := strconv.Atoi(part)
		if json.Unmarshal(cur, &arr) != nil || err != nil || i >= len(arr) {
			return "<absent>"
		}
		cur = arr[i]
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, cur); err != nil {
		return "<invalid>"
	}
	return buf.String()
}

func splitPath(p string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(p); i++ {
		switch {
		case p[i] == '\\' && i+1 < len(p):
			i++
			cur.WriteByte(p[i])
		case p[i] == '.':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(p[i])
		}
	}
	return append(out, cur.String())
}

const head = "format_version: 3.0.0\nname: a\nversion: 1.0.0\ntitle: A\ndescription: D\n"

// pt is a policy template with its required keys and extra YAML lines.
func pt(extra string) string {
	return head + "policy_templates:\n  - name: t\n    title: T\n    description: TD\n" + extra
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		opts  Options
		want  map[string]string // path -> JSON
	}{
		{"defaults derived as EPR does", map[string]string{"manifest.yml": "name: a\nversion: 0.1.0\ndescription: d\ncategories: [web, nope]\n"}, Options{},
			map[string]string{"type": `"integration"`, "release": `"beta"`, "license": `"basic"`, "title": "<absent>",
				"categories": `["web"]`, "signature_path": "<absent>", "readme": `"/package/a/0.1.0/docs/README.md"`,
				"download": `"/epr/a/a-0.1.0.zip"`, "path": `"/package/a/0.1.0"`, "format_version": `""`}},
		{"prerelease is beta, subscription is the license, signature", map[string]string{"manifest.yml": "name: a\nversion: 1.0.0-rc1\nconditions.elastic.subscription: gold\n"}, Options{Signed: true},
			map[string]string{"release": `"beta"`, "license": `"gold"`, "signature_path": `"/epr/a/a-1.0.0-rc1.zip.sig"`,
				"conditions": `{"elastic":{"subscription":"gold"}}`}},
		{"dotted and nested keys are the same", map[string]string{"manifest.yml": head + "owner.github: me\nowner:\n  type: elastic\nconditions:\n  kibana.version: ^8.0.0\n  agent: {version: ^8.1.0}\n"}, Options{},
			map[string]string{"owner": `{"type":"elastic","github":"me"}`, "conditions": `{"kibana":{"version":"^8.0.0"},"agent":{"version":"^8.1.0"}}`}},
		{"present but empty values keep their key", map[string]string{"manifest.yml": head + "title: ''\nconditions: {kibana: {}}\nsource: {}\n"}, Options{},
			map[string]string{"title": `""`, "conditions": `{"kibana":{"version":""}}`, "source": `{}`}},
		{"scalars become strings as ucfg formats them", map[string]string{"manifest.yml": "name: a\nversion: 1.0.0\ntitle: 42\ndescription: null\nowner: {github: 1.50, type: yes}\n"}, Options{},
			map[string]string{"title": `"42"`, "description": `""`, "owner": `{"type":"true","github":"1.5"}`}},
		{"a single value is a list of one, a mapping an empty list", map[string]string{"manifest.yml": head + "categories: web\nicons: {src: /i.svg}\nscreenshots: {src: /s.png}\n"}, Options{},
			map[string]string{"categories": `["web"]`, "icons": "<absent>", "screenshots": "<absent>"}},
		{"images get their path", map[string]string{"manifest.yml": head + "icons:\n  - src: /img/i.svg\n    path: ignored\n    dark_mode: true\n"}, Options{},
			map[string]string{"icons": `[{"src":"/img/i.svg","path":"/package/a/1.0.0/img/i.svg"}]`}},
		{"variable defaults keep YAML 1.1 types, maps sorted and expanded", map[string]string{"manifest.yml": head + "vars:\n" +
			"  - {name: a, type: text, default: 0755}\n  - {name: b, type: text, default: yes}\n  - {name: c, type: text, default: []}\n" +
			"  - {name: d, type: text, default: {}}\n  - {name: e, type: text, default: {z.y: 1, a: [null, 1.0]}}\n  - {name: f, type: text, multi: 'true', secret: true}\n"}, Options{},
			map[string]string{"vars.0.default": `493`, "vars.1.default": `true`, "vars.2.default": `[]`, "vars.3.default": "<absent>",
				"vars.4.default": `{"a":[null,1],"z":{"y":1}}`, "vars.5": `{"name":"f","type":"text","multi":true,"required":false,"show_user":false}`}},
		{"policy templates have EPR's keys only", map[string]string{"manifest.yml": pt("    vars: [{name: v, type: text}]\n    multiple: off\n    inputs:\n      - type: logfile\n        multi: true\n        hide_in_deployment_modes: [agentless]\n        deployment_modes: agentless\n    deployment_modes:\n      default: {}\n      agentless: {enabled: true, release: beta, organization: o, resources: {requests: {cpu: 1}}}\n")}, Options{},
			map[string]string{"policy_templates.0.vars": "<absent>", "policy_templates.0.multiple": `false`,
				"policy_templates.0.inputs":           `[{"type":"logfile","deployment_modes":["agentless"]}]`,
				"policy_templates.0.deployment_modes": `{"default":{"enabled":false},"agentless":{"enabled":true,"release":"beta"}}`,
				"policy_templates.0.readme":           "<absent>"}},
		{"template readme and multiple default", map[string]string{"manifest.yml": pt(""), "docs/t.md": "t"}, Options{},
			map[string]string{"policy_templates.0.readme": `"/package/a/1.0.0/docs/t.md"`, "policy_templates.0.multiple": `true`}},
		{"input package templates take the input's ingestion method", map[string]string{"manifest.yml": head + "type: input\npolicy_templates:\n" +
			"  - {name: t, title: T, description: D, input: logfile, ingestion_method: X, vars: [{name: v, type: text}]}\n" +
			"  - {name: u, title: U, description: D, input: unknown, ingestion_method: X}\n"}, Options{},
			map[string]string{"policy_templates.0.ingestion_method": `"File"`, "policy_templates.0.vars": "<absent>", "policy_templates.1.ingestion_method": "<absent>"}},
		{"data stream elasticsearch block, nested", map[string]string{"manifest.yml": head,
			"data_stream/logs/manifest.yml":                              "title: L\ntype: logs\nelasticsearch:\n  index_template:\n    mappings: {dynamic: false}\n    settings: {index.codec: best}\n  source_mode: synthetic\n  privileges.indices: [auto_configure]\n",
			"data_stream/logs/elasticsearch/ingest_pipeline/default.yml": "processors: []"}, Options{},
			map[string]string{"data_streams.0.elasticsearch": `{"index_template.settings":{"index":{"codec":"best"}},"index_template.mappings":{"dynamic":false},"ingest_pipeline.name":"default","privileges":{"indices":["auto_configure"]}}`,
				"data_streams.0.ingest_pipeline": `"default"`, "data_streams.0.dataset": `"a.logs"`, "data_streams.0.package": `"a"`, "data_streams.0.path": `"logs"`, "data_streams.0.release": `"ga"`}},
		{"data stream elasticsearch block, dotted", map[string]string{"manifest.yml": head,
			"data_stream/logs/manifest.yml": "title: L\ntype: logs\nelasticsearch.index_template.mappings: {properties: {host.name: {type: keyword}}}\n"}, Options{},
			map[string]string{"data_streams.0.elasticsearch": `{"index_template.mappings":{"properties":{"host":{"name":{"type":"keyword"}}}}}`, "data_streams.0.ingest_pipeline": "<absent>"}},
		{"default pipeline without an elasticsearch block", map[string]string{"manifest.yml": head,
			"data_stream/logs/manifest.yml": "title: L\ntype: logs\n", "data_stream/logs/elasticsearch/ingest_pipeline/default.json": "{}"}, Options{},
			map[string]string{"data_streams.0.ingest_pipeline": `"default"`, "data_streams.0.elasticsearch": "<absent>"}},
		{"streams: defaults and ingestion methods", map[string]string{"manifest.yml": head,
			"data_stream/logs/manifest.yml": "title: L\ntype: logs\nstreams:\n  - {input: logfile, ingestion_method: X, deprecated: {since: 1.0.0}}\n  - {input: custom/input, ingestion_method: X, enabled: off, template_path: t.hbs}\n"}, Options{},
			map[string]string{"data_streams.0.streams": `[{"input":"logfile","template_path":"stream.yml.hbs","enabled":true,"ingestion_method":"File"},{"input":"custom/input","template_path":"t.hbs","enabled":false,"ingestion_method":"X"}]`}},
		{"base forms for /search", map[string]string{"manifest.yml": pt("    deprecated: {description: old}\n"),
			"data_stream/logs/manifest.yml": "title: L\ntype: logs\ndeprecated: {since: 2.0.0}\n"}, Options{},
			map[string]string{"policy_templates.0.deprecated": `{"since":"","description":"old"}`, "data_streams.0.deprecated": `{"since":"2.0.0","description":""}`}},
		{"assets level by level, zip order inside a level, .DS_Store skipped", map[string]string{"manifest.yml": head, "b.txt": "", "c.txt": "", "x/.DS_Store_y": "", "docs/.DS_Store": ""},
			Options{FileOrder: []string{"manifest.yml", "c.txt", "b.txt", "docs/README.md"}},
			map[string]string{"assets": `["/package/a/1.0.0/manifest.yml","/package/a/1.0.0/c.txt","/package/a/1.0.0/b.txt","/package/a/1.0.0/docs/README.md"]`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			js, err := build(t, tc.files, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			for path, want := range tc.want {
				if got := at(js, path); got != want {
					t.Errorf("%s = %s, want %s\n%s", path, got, want, js)
				}
			}
		})
	}
}

func TestBuildDottedEqualsNested(t *testing.T) {
	ds := func(es string) map[string]string {
		return map[string]string{"manifest.yml": head, "data_stream/d/manifest.yml": "title: D\ntype: metrics\n" + es}
	}
	nested, err := build(t, ds("elasticsearch:\n  index_template:\n    mappings: {dynamic: false}\n  privileges:\n    indices: [read]\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	dotted, err := build(t, ds("elasticsearch.index_template.mappings.dynamic: false\nelasticsearch.privileges.indices: read\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if nested != dotted {
		t.Errorf("nested and dotted manifests differ:\n%s\n%s", nested, dotted)
	}
}

// TestBuildRefuses: what EPR's loader refuses, Build refuses, naming why.
func TestBuildRefuses(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no manifest", map[string]string{}, ErrNoManifest.Error()},
		{"bad yaml", map[string]string{"manifest.yml": "name: ["}, "parse manifest.yml"},
		{"not a mapping", map[string]string{"manifest.yml": "- a"}, "parse manifest.yml"},
		{"bad version", map[string]string{"manifest.yml": "name: a\nversion: 1.0\n"}, `version "1"`},
		{"no readme", map[string]string{"manifest.yml": head, "docs/README.md": "<absent>"}, "docs/README.md is required"},
		{"folder name with a dash", map[string]string{"manifest.yml": head, "kibana/some-thing/x.json": "{}"}, "contains -: kibana/some-thing"},
		{"unused pipeline", map[string]string{"manifest.yml": head, "data_stream/d/manifest.yml": "title: D\ntype: logs\n", "data_stream/d/elasticsearch/ingest_pipeline/other.yml": "x: 1"}, "unused pipelines"},
		{"required template title", map[string]string{"manifest.yml": head + "policy_templates: [{name: t, description: D}]\n"}, "policy_templates.0.title"},
		{"required data stream type", map[string]string{"manifest.yml": head, "data_stream/d/manifest.yml": "title: D\n"}, "'type'"},
		{"invalid release", map[string]string{"manifest.yml": head + "release: alpha\n"}, `invalid release: "alpha"`},
		{"invalid agentless release", map[string]string{"manifest.yml": pt("    deployment_modes: {agentless: {enabled: true, release: experimental}}\n")}, `invalid agentless release: "experimental"`},
		{"a mapping where a string belongs", map[string]string{"manifest.yml": head + "owner: {github: {a: 1}}\n"}, "owner.github: expected a string"},
		{"a default JSON cannot hold", map[string]string{"manifest.yml": head + "vars: [{name: v, type: text, default: .inf}]\n"}, "no JSON form"},
		{"a non-string key", map[string]string{"manifest.yml": head + "vars: [{name: v, type: text, default: {1: x}}]\n"}, "not a string"},
		{"YAML alias bomb in a data stream", map[string]string{"manifest.yml": head, "data_stream/d/manifest.yml": aliasBomb()}, "excessive aliasing"},
		{"template readme is a folder", map[string]string{"manifest.yml": pt(""), "docs/t.md/x": "x"}, "docs/t.md is a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build(t, tc.files, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if tc.want == ErrNoManifest.Error() && !errors.Is(err, ErrNoManifest) {
				t.Errorf("err = %v, want ErrNoManifest", err)
			}
		})
	}
}

// aliasBomb is a YAML document that expands to 10^9 nodes.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("a: &a [x, x, x, x, x, x, x, x, x, x]\n")
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		b.WriteString(n + ": &" + n + " [")
		for i := range 10 {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*" + prev)
		}
		b.WriteString("]\n")
		prev = n
	}
	return b.String()
}
