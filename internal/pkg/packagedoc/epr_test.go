package packagedoc_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"pkgstore/internal/builder"
	"pkgstore/internal/pkg/archive"
	"pkgstore/internal/pkg/packagedoc"
	"pkgstore/internal/publish/index"
	"pkgstore/internal/registry/catalog"
	"pkgstore/internal/testkit/eprtest"
	"pkgstore/internal/testkit/treetest"

	"go.yaml.in/yaml/v3"
)

// TestLoaderAgreesWithEPR gives small packages, each on one edge of EPR's
// manifest reading, to Build and to the reference EPR (one process per
// package: EPR refuses to start when a package does not load). Both must
// refuse the package (ours: Build or catalog.Check, as the publishing job
// does), or both must produce the same document byte for byte. The generated and real corpora are compared through the whole
// store in internal/testkit/eprdiff; these are the shapes they do not reach.
func TestLoaderAgreesWithEPR(t *testing.T) {
	eprtest.Script(t) // skips without ../shared
	const base = "format_version: 3.0.0\nname: probe\nversion: 1.0.0\ntitle: P\ndescription: D\n"
	tmpl := func(extra string) string {
		return base + "policy_templates:\n  - {name: a, title: A, description: D" + extra + "}\n"
	}
	ds := func(manifest string) map[string]string {
		return map[string]string{"manifest.yml": base, "data_stream/x/manifest.yml": manifest}
	}
	probes := []struct {
		name  string
		files map[string]string
	}{
		{"every category of the catalogue", map[string]string{"manifest.yml": base + "categories: [" + strings.Join(catalogue(t), ", ") + ", not_a_category]\n"}},
		{"bool from a quoted string", map[string]string{"manifest.yml": tmpl(", multiple: 'false'")}},
		{"bool from '1'", map[string]string{"manifest.yml": tmpl(", multiple: '1'")}},
		{"bool from a quoted yes", map[string]string{"manifest.yml": tmpl(", multiple: 'yes'")}},
		{"bool from an int", map[string]string{"manifest.yml": tmpl(", multiple: 1")}},
		{"bool from plain y", map[string]string{"manifest.yml": tmpl(", multiple: n")}},
		{"string from a list", map[string]string{"manifest.yml": base + "owner: {github: [a]}\n"}},
		{"string from a map", map[string]string{"manifest.yml": base + "source: {license: {a: b}}\n"}},
		{"strings from numbers and bools", map[string]string{"manifest.yml": base + "owner: {github: 1.0, type: 1e21}\ngroup: 0x1F\n"}},
		{"list from a map", map[string]string{"manifest.yml": base + "categories: {a: web}\npolicy_templates: {name: a, title: A, description: D}\n"}},
		{"list from a scalar", map[string]string{"manifest.yml": base + "categories: web\nicons: {src: /a.svg}\n"}},
		{"null in lists", map[string]string{"manifest.yml": base + "categories: [web, null, security]\nvars:\n  - {name: a, type: text, default: [a, null, ~]}\n"}},
		{"constraint from an int", map[string]string{"manifest.yml": base + "conditions.kibana.version: 8\n"}},
		{"YAML 1.1 numbers", map[string]string{"manifest.yml": base + "vars:\n  - {name: a, type: text, default: 1_000, title: 0755}\n  - {name: b, type: text, default: 0b101, description: +12}\n"}},
		{"merge keys", map[string]string{"manifest.yml": base + "x: &x {type: elastic}\nowner:\n  <<: *x\n  github: me\n"}},
		{"empty deployment mode", map[string]string{"manifest.yml": tmpl(", deployment_modes: {default: {}, agentless: {}}")}},
		{"dotted keys in a list item", map[string]string{"manifest.yml": base + "policy_templates:\n  - name: a\n    title: A\n    description: D\n    deployment_modes.agentless.enabled: true\n"}},
		{"empty and null defaults", map[string]string{"manifest.yml": base + "vars:\n  - {name: a, type: text, default: {}}\n  - {name: b, type: text, default: {a: {}}}\n  - {name: c, type: text, default: [{}]}\n  - {name: d, type: text, default: []}\n  - {name: e, type: text, default: ''}\n"}},
		{"non-finite default", map[string]string{"manifest.yml": base + "vars:\n  - {name: a, type: text, default: .nan}\n"}},
		{"non-string key", map[string]string{"manifest.yml": base + "vars:\n  - {name: a, type: text, default: {1: x}}\n"}},
		{"empty discovery", map[string]string{"manifest.yml": base + "discovery: {fields: []}\n"}},
		{"empty conditions", map[string]string{"manifest.yml": base + "conditions: {elastic: {}, kibana: {}}\n"}},
		{"empty agent condition", map[string]string{"manifest.yml": base + "conditions: {agent: {}}\n"}},
		{"keys are case-sensitive", map[string]string{"manifest.yml": base + "Owner: {Github: x}\nCategories: [web]\nLICENSE: gold\n"}},
		{"keys EPR computes", map[string]string{"manifest.yml": base + "data_streams: [{type: logs, dataset: x, title: T, streams: [{input: logfile}]}]\nassets: [a]\nreadme: r\nsignature_path: s\ndownload: d\npath: p\nbasepolicytemplates: [{name: b, title: B, description: D}]\n" +
			"policy_templates: [{name: a, title: A, description: D, readme: /r.md}]\n", "data_stream/y/manifest.yml": "title: Y\ntype: logs\npackage: other\npath: zz\n"}},
		{"no variable expansion", map[string]string{"manifest.yml": base + "owner: {github: '${foo} $$ ${bar:x}'}\nvars: [{name: a, type: text, default: '${env.X}', description: '$${x}'}]\n"}},
		{"block scalars", map[string]string{"manifest.yml": base + "vars:\n  - name: a\n    type: yaml\n    default: |\n      a: 1\n      b: [x]\n    description: >\n      folded\n      text\n"}},
		{"HTML and unicode are not escaped", map[string]string{"manifest.yml": base + "owner: {github: \"<a href='x'>&amp; é \\u2028 \\t\"}\n"}},
		{"input streams", map[string]string{"manifest.yml": base + "policy_templates:\n  - name: a\n    title: A\n    description: D\n    inputs:\n      - type: logfile\n        streams:\n          - {input: logfile, data_stream: foo, title: S, enabled: false}\n"}},
		{"required title missing", map[string]string{"manifest.yml": tmpl("") + "  - {name: b, description: D}\n"}},
		{"required title null", map[string]string{"manifest.yml": base + "policy_templates:\n  - {name: a, title: null, description: D}\n"}},
		{"required name empty", map[string]string{"manifest.yml": base + "policy_templates:\n  - {name: '', title: A, description: D}\n"}},
		{"required icon src", map[string]string{"manifest.yml": base + "icons: [{title: x}]\n"}},
		{"required requirement version", map[string]string{"manifest.yml": base + "requires: {input: [{package: x}]}\n"}},
		{"invalid release", map[string]string{"manifest.yml": base + "release: alpha\n"}},
		{"invalid agentless release", map[string]string{"manifest.yml": tmpl(", deployment_modes: {agentless: {enabled: true, release: experimental}}")}},
		{"agentless release ga", map[string]string{"manifest.yml": tmpl(", deployment_modes: {agentless: {enabled: true, release: ga}}")}},
		{"no readme", map[string]string{"manifest.yml": base, "docs/README.md": ""}},
		{"folder name with a dash", map[string]string{"manifest.yml": base, "a-b/c.txt": "x"}},
		{"template readme is a folder", map[string]string{"manifest.yml": tmpl(""), "docs/a.md/x": "x"}},
		{"data stream nulls", ds("title: X\ntype: logs\nstreams: null\nelasticsearch: null\n")},
		{"data stream bool from yes string", ds("title: X\ntype: logs\nhidden: 'yes'\n")},
		{"data stream empty elasticsearch with default pipeline", map[string]string{"manifest.yml": base, "data_stream/x/manifest.yml": "title: X\ntype: logs\nelasticsearch: {}\n", "data_stream/x/elasticsearch/ingest_pipeline/default.yml": "a: 1\n"}},
		{"data stream named pipeline beside default", map[string]string{"manifest.yml": base, "data_stream/x/manifest.yml": "title: X\ntype: logs\ningest_pipeline: p\nelasticsearch: {index_template.mappings: {a: 1}}\n", "data_stream/x/elasticsearch/ingest_pipeline/default.yml": "a: 1\n"}},
		{"data stream pipeline in a subfolder", map[string]string{"manifest.yml": base, "data_stream/x/manifest.yml": "title: X\ntype: logs\n", "data_stream/x/elasticsearch/ingest_pipeline/sub/a.yml": "a: 1\n"}},
		{"data stream without a manifest", map[string]string{"manifest.yml": base, "data_stream/x/elasticsearch/ingest_pipeline/default.yml": "a: 1\n"}},
		{"data stream type missing", ds("title: X\n")},
		{"data stream empty manifest", ds("# nothing\n")},
		{"data stream invalid release", ds("title: X\ntype: logs\nrelease: alpha\n")},
		{"data stream dataset with a dash", ds("title: X\ntype: logs\ndataset: a-b\n")},
	}
	for _, pr := range probes {
		t.Run(pr.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "probe", "1.0.0")
			files := map[string]string{"docs/README.md": "readme"}
			for k, v := range pr.files {
				files[k] = v
			}
			if pr.name == "no readme" {
				delete(files, "docs/README.md")
			}
			treetest.Write(t, dir, files)
			var zip bytes.Buffer
			id, _, err := builder.WriteV1(context.Background(), &zip, dir)
			if err != nil {
				t.Fatalf("zip: %v", err)
			}
			pkg, err := archive.Open(bytes.NewReader(zip.Bytes()), int64(zip.Len()), id, archive.DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			var ours []byte
			doc, buildErr := packagedoc.Build(pkg.FS, packagedoc.Options{FileOrder: pkg.Paths()})
			if buildErr == nil {
				if ours, err = packagedoc.Marshal(doc); err != nil {
					t.Fatal(err)
				}
				// The job publishes only what catalog.Check accepts
				// (what EPR's storage indexer can load).
				buildErr = catalog.Check(index.Entry{ID: id, Manifest: ours})
			}
			zips := t.TempDir()
			if err := os.WriteFile(filepath.Join(zips, id.ZipName()), zip.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			e, err := eprtest.Run(t, eprtest.Options{PackagePaths: []string{zips}, Args: []string{"-log-level", "error"}})
			if errors.Is(err, eprtest.ErrExited) {
				if buildErr == nil {
					t.Fatalf("EPR refuses the package, Build does not:\n%s\nours:\n%s", lastLine(err.Error()), ours)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.Get(e.URL + "/package/probe/1.0.0/")
			if err != nil {
				t.Fatal(err)
			}
			ref, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case buildErr != nil && resp.StatusCode == http.StatusInternalServerError:
				// EPR loads it but cannot encode its document (a
				// non-finite number): refused alike.
			case buildErr != nil:
				t.Fatalf("Build refuses the package (%v), EPR serves it (%d):\n%s", buildErr, resp.StatusCode, ref)
			case resp.StatusCode != http.StatusOK:
				t.Fatalf("EPR answers %d: %s", resp.StatusCode, ref)
			case !bytes.Equal(ours, ref):
				t.Fatalf("documents differ\nEPR:\n%s\nours:\n%s", ref, ours)
			}
		})
	}
}

// catalogue lists the ids of categories.yml, top-level and subcategories.
func catalogue(t *testing.T) []string {
	data, err := os.ReadFile("categories.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cats map[string]struct {
		Subcategories map[string]string `yaml:"subcategories"`
	}
	if err := yaml.Unmarshal(data, &cats); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for id, c := range cats {
		ids = append(ids, id)
		for sub := range c.Subcategories {
			ids = append(ids, sub)
		}
	}
	sort.Strings(ids)
	return ids
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
