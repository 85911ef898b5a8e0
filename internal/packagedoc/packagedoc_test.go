package packagedoc

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"
)

func TestBuild(t *testing.T) {
	const readme = "docs/README.md"
	tests := []struct {
		name     string
		manifest string
		extra    map[string]string
		opts     Options
		check    func(t *testing.T, p *Package, js string)
		wantErr  bool
	}{
		{name: "defaults", manifest: "format_version: 1.0.0\nname: a\nversion: 0.1.0\ntitle: A\ndescription: d\ncategories: [web, nope]\n",
			check: func(t *testing.T, p *Package, js string) {
				if p.Type != "integration" || p.Release != "beta" || p.License != "basic" {
					t.Errorf("type %q release %q license %q", p.Type, p.Release, p.License)
				}
				if strings.Join(p.Categories, ",") != "web" {
					t.Errorf("unknown category kept: %v", p.Categories)
				}
				if p.SignaturePath != "" || p.Readme == nil || *p.Readme != "/package/a/0.1.0/docs/README.md" {
					t.Errorf("signature %q readme set %v", p.SignaturePath, p.Readme != nil)
				}
			}},
		{name: "dotted keys, subscription license, ga", manifest: "name: a\nversion: 1.0.0\nowner.github: me\nconditions.kibana.version: ^8.0.0\nconditions:\n  elastic.subscription: gold\n",
			opts: Options{Signed: true},
			check: func(t *testing.T, p *Package, js string) {
				if p.Owner == nil || p.Owner.Github != "me" || p.Conditions.Kibana.Version != "^8.0.0" || p.License != "gold" || p.Release != "ga" {
					t.Errorf("%s", js)
				}
				if p.SignaturePath != "/epr/a/a-1.0.0.zip.sig" {
					t.Errorf("signature_path %q", p.SignaturePath)
				}
			}},
		{name: "data stream and template defaults", manifest: "name: a\nversion: 1.0.0\ntype: input\npolicy_templates:\n  - name: t\n    title: T\n    description: D\n    input: logfile\n    icons: [{src: /img/i.svg}]\n",
			extra: map[string]string{
				"data_stream/logs/manifest.yml":                              "title: L\ntype: logs\nstreams:\n  - input: logfile\n",
				"data_stream/logs/elasticsearch/ingest_pipeline/default.yml": "x: 1",
				"docs/t.md": "t",
			},
			check: func(t *testing.T, p *Package, js string) {
				ds := p.DataStreams[0]
				if ds.Dataset != "a.logs" || ds.Path != "logs" || ds.Package != "a" || ds.Release != "ga" || ds.IngestPipeline != "default" {
					t.Errorf("data stream %+v", ds)
				}
				s := ds.Streams[0]
				if s.TemplatePath != "stream.yml.hbs" || s.Enabled == nil || !*s.Enabled || s.IngestionMethod != "File" {
					t.Errorf("stream %+v", s)
				}
				pt := p.PolicyTemplates[0]
				if pt.Multiple == nil || !*pt.Multiple || pt.Readme == nil || *pt.Readme != "/package/a/1.0.0/docs/t.md" || pt.IngestionMethod != "File" || pt.Icons[0].Path != "/package/a/1.0.0/img/i.svg" {
					t.Errorf("template %+v", pt)
				}
				if !strings.Contains(js, `"assets": [
    "/package/a/1.0.0/manifest.yml",
    "/package/a/1.0.0/docs/README.md",
    "/package/a/1.0.0/docs/t.md",
    "/package/a/1.0.0/data_stream/logs/manifest.yml",`) {
					t.Errorf("assets not level by level:\n%s", js)
				}
			}},
		{name: "zip order inside a level", manifest: "name: a\nversion: 1.0.0\n", extra: map[string]string{"b.txt": "", "c.txt": ""},
			opts: Options{FileOrder: []string{"manifest.yml", "c.txt", "b.txt", "docs/README.md"}},
			check: func(t *testing.T, p *Package, js string) {
				if got := strings.Join(p.Assets, " "); got != "/package/a/1.0.0/manifest.yml /package/a/1.0.0/c.txt /package/a/1.0.0/b.txt /package/a/1.0.0/docs/README.md" {
					t.Errorf("assets %s", got)
				}
			}},
		{name: "bad yaml", manifest: "name: [", wantErr: true},
		{name: "not a mapping", manifest: "- a", wantErr: true},
		{name: "bad version", manifest: "name: a\nversion: 1.0\n", wantErr: true},
		{name: "wrong type", manifest: "name: a\nversion: 1.0.0\nicons: 3\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{"manifest.yml": {Data: []byte(tc.manifest)}, readme: {Data: []byte("r")}}
			for k, v := range tc.extra {
				fsys[k] = &fstest.MapFile{Data: []byte(v)}
			}
			p, err := Build(fsys, tc.opts)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			b, err := Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			var back map[string]any
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			tc.check(t, p, string(b))
		})
	}
}

func TestBuildWithoutManifest(t *testing.T) {
	if _, err := Build(fstest.MapFS{}, Options{}); err != ErrNoManifest {
		t.Errorf("err = %v", err)
	}
}
