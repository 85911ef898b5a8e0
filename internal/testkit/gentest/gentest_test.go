package gentest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"pkgstore/internal/pkg/packagedoc"
)

// read returns every file under dir by its relative path.
func read(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWriteIsReproducible(t *testing.T) {
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	for _, w := range []struct {
		dir  string
		seed uint64
	}{{a, 7}, {b, 7}, {c, 8}} {
		if _, err := Write(w.dir, w.seed, 40); err != nil {
			t.Fatal(err)
		}
	}
	fa, fb, fc := read(t, a), read(t, b), read(t, c)
	if len(fa) != len(fb) {
		t.Fatalf("seed 7 wrote %d then %d files", len(fa), len(fb))
	}
	for p, data := range fa {
		if !bytes.Equal(data, fb[p]) {
			t.Fatalf("seed 7 wrote %s differently twice", p)
		}
	}
	same := len(fa) == len(fc)
	for p, data := range fa {
		if !bytes.Equal(data, fc[p]) {
			same = false
		}
	}
	if same {
		t.Error("seeds 7 and 8 wrote the same packages")
	}
}

// TestWrittenPackagesLoad: every generated package is one EPR loads, so
// Build (which refuses what EPR refuses) must accept each, and the corpus
// must reach the shapes it exists for.
func TestWrittenPackagesLoad(t *testing.T) {
	dirs, err := Write(t.TempDir(), 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, d := range dirs {
		p, err := packagedoc.Build(os.DirFS(d), packagedoc.Options{})
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		seen["type "+p.Type] = true
		for _, ds := range p.DataStreams {
			if es := ds.Elasticsearch; es != nil && es.IndexTemplateMappings != nil {
				seen["index_template.mappings"] = true
			}
			if ds.IngestPipeline == "default" {
				seen["default pipeline"] = true
			}
		}
		for _, pt := range p.PolicyTemplates {
			if dm := pt.DeploymentModes; dm != nil && dm.Agentless != nil {
				seen["agentless"] = true
			}
		}
		for _, v := range p.Vars {
			if v.Default != nil {
				seen["variable default"] = true
			}
		}
	}
	for _, want := range []string{"type integration", "type input", "type content", "index_template.mappings", "default pipeline", "agentless", "variable default"} {
		if !seen[want] {
			t.Errorf("100 generated packages never have %s", want)
		}
	}
}
