package builder

import (
	"archive/zip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"pkgstore/internal/builder/ecs"
	"pkgstore/internal/testkit/elasticpackagetest"
	"pkgstore/internal/testkit/sharedtest"
	"pkgstore/internal/testkit/treetest"
)

const integrationManifest = `format_version: 3.0.0
name: demo
title: Demo
version: 1.2.3
description: d
type: integration
owner:
  github: elastic/x
  type: elastic
`

// readBuilt returns the files of a built zip below its root folder.
func readBuilt(t *testing.T, p string) map[string]string {
	t.Helper()
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := map[string]string{}
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		_, rel, _ := strings.Cut(f.Name, "/")
		out[rel] = string(b)
	}
	return out
}

func TestSteps(t *testing.T) {
	ecsBase := t.TempDir()
	treetest.Write(t, ecsBase, map[string]string{"v8.11.0/" + ecs.SchemaPath: miniECS(t)})
	cases := []struct {
		name    string
		repo    map[string]string // files at the repository root (a .git folder is made)
		files   map[string]string // package files
		env     map[string]string
		check   func(t *testing.T, built map[string]string)
		wantErr string
	}{
		{
			name:  "licence from the repository",
			repo:  map[string]string{"LICENSE.txt": "Repo licence\n"},
			files: map[string]string{},
			check: func(t *testing.T, b map[string]string) {
				if b["LICENSE.txt"] != "Repo licence\n" {
					t.Errorf("LICENSE.txt = %q", b["LICENSE.txt"])
				}
			},
		},
		{
			name:  "package licence wins",
			repo:  map[string]string{"LICENSE.txt": "Repo licence\n"},
			files: map[string]string{"LICENSE.txt": "Own licence\n"},
			check: func(t *testing.T, b map[string]string) {
				if b["LICENSE.txt"] != "Own licence\n" {
					t.Errorf("LICENSE.txt = %q", b["LICENSE.txt"])
				}
			},
		},
		{
			name:  "no licence anywhere",
			files: map[string]string{},
			check: func(t *testing.T, b map[string]string) {
				if _, ok := b["LICENSE.txt"]; ok {
					t.Error("LICENSE.txt appeared from nowhere")
				}
			},
		},
		{
			name:    "empty repository licence",
			repo:    map[string]string{"LICENSE.txt": ""},
			files:   map[string]string{},
			wantErr: "is empty",
		},
		{
			name:  "REPOSITORY_LICENSE names another file",
			repo:  map[string]string{"licenses/Elastic-2.0.txt": "Elastic License 2.0\n"},
			env:   map[string]string{RepositoryLicenseEnv: "licenses/Elastic-2.0.txt"},
			files: map[string]string{},
			check: func(t *testing.T, b map[string]string) {
				if b["LICENSE.txt"] != "Elastic License 2.0\n" {
					t.Errorf("LICENSE.txt = %q", b["LICENSE.txt"])
				}
			},
		},
		{
			name:  "ELASTIC_PACKAGE_REPOSITORY_LICENSE (elastic-package's name) names another file, and wins",
			repo:  map[string]string{"licenses/Elastic-2.0.txt": "Elastic License 2.0\n", "licenses/other.txt": "Other\n"},
			env:   map[string]string{ElasticPackageRepositoryLicenseEnv: "licenses/Elastic-2.0.txt", RepositoryLicenseEnv: "licenses/other.txt"},
			files: map[string]string{},
			check: func(t *testing.T, b map[string]string) {
				if b["LICENSE.txt"] != "Elastic License 2.0\n" {
					t.Errorf("LICENSE.txt = %q", b["LICENSE.txt"])
				}
			},
		},
		{
			name:    "REPOSITORY_LICENSE that does not exist",
			env:     map[string]string{RepositoryLicenseEnv: "nope.txt"},
			files:   map[string]string{},
			wantErr: "nope.txt",
		},
		{
			name: "saved objects encoded",
			files: map[string]string{
				"kibana/dashboard/demo-a.json": `{"id":"demo-a","type":"dashboard","attributes":{"title":"A <b>","panelsJSON":[{"x":1.5,"big":100000000000000000000000}],"optionsJSON":"{\"kept\":true}","kibanaSavedObjectMeta":{"searchSourceJSON":{"query":{"query":"a & b"}}}}}`,
				"kibana/dashboard/demo-b.json": "{\n\"id\": \"demo-b\",   \"attributes\": {\"panelsJSON\": \"[]\"}}\n",
			},
			check: func(t *testing.T, b map[string]string) {
				var obj map[string]any
				if err := json.Unmarshal([]byte(b["kibana/dashboard/demo-a.json"]), &obj); err != nil {
					t.Fatal(err)
				}
				attrs := obj["attributes"].(map[string]any)
				// Go's encoder, as elastic-package: compact, HTML-escaped, floats as float64.
				if got, want := attrs["panelsJSON"], `[{"big":1e+23,"x":1.5}]`; got != want {
					t.Errorf("panelsJSON = %v, want %v", got, want)
				}
				if got, want := attrs["kibanaSavedObjectMeta"].(map[string]any)["searchSourceJSON"], `{"query":{"query":"a \u0026 b"}}`; got != want {
					t.Errorf("searchSourceJSON = %v, want %v", got, want)
				}
				if attrs["optionsJSON"] != `{"kept":true}` {
					t.Errorf("an encoded field was encoded again: %v", attrs["optionsJSON"])
				}
				if !strings.HasPrefix(b["kibana/dashboard/demo-a.json"], "{\n  \"attributes\": {") {
					t.Errorf("rewritten file is not indented JSON with sorted keys:\n%s", b["kibana/dashboard/demo-a.json"])
				}
				if b["kibana/dashboard/demo-b.json"] != "{\n\"id\": \"demo-b\",   \"attributes\": {\"panelsJSON\": \"[]\"}}\n" {
					t.Errorf("a file with nothing to encode was rewritten")
				}
			},
		},
		{
			name:    "saved object that is not JSON",
			files:   map[string]string{"kibana/dashboard/demo-a.json": "{"},
			wantErr: "kibana/dashboard/demo-a.json",
		},
		{
			name: "external fields and ECS dynamic templates",
			files: map[string]string{
				"_dev/build/build.yml":           "dependencies:\n  ecs:\n    reference: git@v8.11.0\n    import_mappings: true\n",
				"data_stream/log/manifest.yml":   "title: Log\ntype: logs\n",
				"data_stream/log/fields/ecs.yml": "- name: event.module\n  external: ecs\n- name: own\n  type: keyword\n",
				"data_stream/log/fields/own.yml": "# untouched\n- name: x\n  type: keyword\n",
			},
			check: func(t *testing.T, b map[string]string) {
				var fields []map[string]any
				if err := yaml.Unmarshal([]byte(b["data_stream/log/fields/ecs.yml"]), &fields); err != nil {
					t.Fatal(err)
				}
				if len(fields) != 2 || fields[0]["type"] != "keyword" || fields[0]["description"] != "Name of the module." || fields[0]["external"] != nil {
					t.Errorf("ecs.yml = %v", fields)
				}
				if b["data_stream/log/fields/own.yml"] != "# untouched\n- name: x\n  type: keyword\n" {
					t.Errorf("a file without external fields was rewritten: %q", b["data_stream/log/fields/own.yml"])
				}
				var m struct {
					Title         string
					Elasticsearch struct {
						IndexTemplate struct {
							Mappings struct {
								DynamicTemplates []map[string]any `yaml:"dynamic_templates"`
							}
						} `yaml:"index_template"`
					}
				}
				if err := yaml.Unmarshal([]byte(b["data_stream/log/manifest.yml"]), &m); err != nil {
					t.Fatal(err)
				}
				dt := m.Elasticsearch.IndexTemplate.Mappings.DynamicTemplates
				if m.Title != "Log" || len(dt) != 102 {
					t.Fatalf("title %q, %d dynamic templates, want 102", m.Title, len(dt))
				}
				if _, ok := dt[0]["_embedded_ecs-ecs_timestamp"]; !ok {
					t.Errorf("first template %v", dt[0])
				}
			},
		},
		{
			name: "external fields of a transform",
			files: map[string]string{
				"_dev/build/build.yml":                             "dependencies:\n  ecs:\n    reference: git@v8.11.0\n",
				"elasticsearch/transform/latest/transform.yml":     "source:\n  index: logs-*\ndest:\n  index: latest\n",
				"elasticsearch/transform/latest/fields/fields.yml": "- name: container.labels\n  external: ecs\n",
			},
			check: func(t *testing.T, b map[string]string) {
				var fields []map[string]any
				if err := yaml.Unmarshal([]byte(b["elasticsearch/transform/latest/fields/fields.yml"]), &fields); err != nil {
					t.Fatal(err)
				}
				if len(fields) != 1 || fields[0]["type"] != "object" || fields[0]["object_type"] != "keyword" || fields[0]["external"] != nil {
					t.Errorf("transform fields = %v", fields)
				}
			},
		},
		{
			name: "unknown ECS field",
			files: map[string]string{
				"_dev/build/build.yml":           "dependencies:\n  ecs:\n    reference: git@v8.11.0\n",
				"data_stream/log/manifest.yml":   "title: Log\ntype: logs\n",
				"data_stream/log/fields/ecs.yml": "- name: event.nope\n  external: ecs\n",
			},
			wantErr: "data_stream/log/fields/ecs.yml: field event.nope",
		},
		{
			name: "ECS reference that does not exist",
			files: map[string]string{
				"_dev/build/build.yml": "dependencies:\n  ecs:\n    reference: git@v0.0.1\n",
			},
			wantErr: "ECS reference does not exist: v0.0.1",
		},
		{
			name: "reference without git@",
			files: map[string]string{
				"_dev/build/build.yml": "dependencies:\n  ecs:\n    reference: v8.11.0\n",
			},
			wantErr: "git@REF",
		},
		{
			name: "transforms rendered",
			files: map[string]string{
				"elasticsearch/ingest_pipeline/enrich.yml":            "---\nprocessors: []\n",
				"elasticsearch/transform/latest/transform.yml":        "dest:\n  index: x\n  pipeline: '{{ ingestPipelineName \"enrich\" }}'\n",
				"elasticsearch/transform/latest/manifest.yml":         "start: true\n",
				"elasticsearch/transform/latest/fields/fields.yml":    "- name: a\n  type: keyword\n",
				"elasticsearch/transform/no_pipeline/transform.yml":   "dest:\n  index: y\n",
				"elasticsearch/transform/no_pipeline/fields/base.yml": "- name: b\n  type: keyword\n",
			},
			check: func(t *testing.T, b map[string]string) {
				if got := b["elasticsearch/transform/latest/transform.yml"]; got != "dest:\n  index: x\n  pipeline: '1.2.3-enrich'\n" {
					t.Errorf("transform.yml = %q", got)
				}
			},
		},
		{
			name: "transform with an unknown pipeline",
			files: map[string]string{
				"elasticsearch/transform/latest/transform.yml": "dest:\n  pipeline: '{{ ingestPipelineName \"nope\" }}'\n",
			},
			wantErr: "nope.yml not found",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			repo := t.TempDir()
			treetest.Write(t, repo, tc.repo)
			if err := os.Mkdir(filepath.Join(repo, ".git"), 0o755); err != nil {
				t.Fatal(err)
			}
			pkg := filepath.Join(repo, "packages", "demo")
			files := map[string]string{"manifest.yml": integrationManifest}
			for k, v := range tc.files {
				files[k] = v
			}
			treetest.Write(t, pkg, files)
			res, err := Package(context.Background(), pkg, t.TempDir(), Config{
				ECS:            &ecs.Resolver{BaseURL: "file://" + filepath.ToSlash(ecsBase)},
				SkipValidation: true, // the fragments are not whole packages
			})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, readBuilt(t, res.Path))
		})
	}
}

// miniECS returns the ECS test schema of package ecs's tests.
func miniECS(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("ecs", "testdata", "ecs_nested.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRebuildOfflineIsIdentical builds every package of elastic-package's
// corpus, stops the ECS server, and builds them again with a new resolver
// on the same cache: every build succeeds from the warm cache and gives the
// same bytes.
func TestRebuildOfflineIsIdentical(t *testing.T) {
	schemas := sharedtest.Unpack(t, sharedtest.ECSSchemas)
	srv := httptest.NewServer(http.FileServer(http.Dir(schemas)))
	root := elasticpackagetest.Corpus(t, sharedtest.ElasticPackagePackages)
	cache := t.TempDir()
	pkgs := topLevelPackages(t, root)
	build := func(base string) map[string]string {
		r := &ecs.Resolver{BaseURL: base, CacheDir: cache, Attempts: 1}
		sums := map[string]string{}
		for _, p := range pkgs {
			res, err := Package(context.Background(), filepath.Join(root, p), t.TempDir(), Config{ECS: r, SkipValidation: true})
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			sums[p] = res.SHA256
		}
		return sums
	}
	first := build(srv.URL)
	srv.Close()
	second := build(srv.URL)
	for _, p := range pkgs {
		if first[p] != second[p] {
			t.Errorf("%s: %s then %s", p, first[p], second[p])
		}
	}
	refs, _ := os.ReadDir(cache)
	if len(refs) == 0 {
		t.Fatal("nothing was cached")
	}
	t.Logf("%d packages rebuilt offline with identical bytes; %d ECS references cached", len(pkgs), len(refs))
}

// BenchmarkBuildCorpus builds every package of elastic-package's corpus
// (ECS from a warm cache, validation on): one op is the whole corpus.
func BenchmarkBuildCorpus(b *testing.B) {
	schemas := sharedtest.Unpack(b, sharedtest.ECSSchemas)
	root := elasticpackagetest.Corpus(b, sharedtest.ElasticPackagePackages) // with its links table
	des, err := os.ReadDir(root)
	if err != nil {
		b.Fatal(err)
	}
	var pkgs []string
	for _, de := range des {
		if _, err := os.Stat(filepath.Join(root, de.Name(), "manifest.yml")); err == nil {
			pkgs = append(pkgs, de.Name())
		}
	}
	cache := b.TempDir()
	out := b.TempDir()
	base := "file://" + filepath.ToSlash(schemas)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := &ecs.Resolver{BaseURL: base, CacheDir: cache}
		for _, p := range pkgs {
			if _, err := Package(context.Background(), filepath.Join(root, p), out, Config{ECS: r, RepoRoot: root}); err != nil {
				b.Fatalf("%s: %v", p, err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*len(pkgs)), "ms/package")
}
