package validate

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// addSeeds adds every file of testdata/seeds/<kind> to the corpus.
func addSeeds(f *testing.F, kind string) {
	ents, _ := os.ReadDir(filepath.Join("testdata", "seeds", kind))
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join("testdata", "seeds", kind, e.Name()))
		if err == nil {
			f.Add(data)
		}
	}
}

func FuzzDecodeYAML(f *testing.F) {
	addSeeds(f, "yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, expand := range []bool{false, true} {
			_, _, _ = decodeYAML(data, expand)
		}
	})
}

func FuzzDecodeJSON(f *testing.F) {
	addSeeds(f, "json")
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = decodeJSON(data)
	})
}

func FuzzHandlebars(f *testing.F) {
	addSeeds(f, "hbs")
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = checkHandlebars(string(data))
	})
}

// FuzzManifest validates a small package whose manifest is the fuzz input:
// the validator must never panic nor return an error for a bad package.
func FuzzManifest(f *testing.F) {
	addSeeds(f, "yaml")
	f.Add([]byte(goodManifest))
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := inputPackage(nil)
		fsys["manifest.yml"] = &fstest.MapFile{Data: data}
		if _, err := Package(context.Background(), fsys, Options{}); err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
	})
}
