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

// FuzzFields validates a small input package whose fields file is the fuzz
// input (field definitions: nesting, groups, types, duplicates, ECS
// references): never a panic, never an error for a bad package.
func FuzzFields(f *testing.F) {
	addSeeds(f, "fields")
	for _, s := range []string{
		"- name: message\n  type: text\n",
		"- name: event\n  type: group\n  fields:\n    - name: dataset\n      type: constant_keyword\n",
		"- name: a.b\n  type: keyword\n- name: a\n  type: group\n  fields:\n    - name: b\n      type: long\n",
		"- name: x\n  external: ecs\n",
		"- name: &a y\n  type: *a\n",
		"[]", "{}", "- 1\n- [2]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := inputPackage(nil)
		fsys["fields/input.yml"] = &fstest.MapFile{Data: data}
		if _, err := Package(context.Background(), fsys, Options{}); err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
	})
}
