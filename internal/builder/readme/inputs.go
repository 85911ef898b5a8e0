package readme

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// inputFS holds the documentation of each input type, as elastic-package
// 0.126 ships it (see inputs/NOTICE).
//
//go:embed inputs/*.yml
var inputFS embed.FS

type inputDoc struct {
	Name          string `yaml:"name"`
	Documentation string `yaml:"documentation"`
}

var inputDocs = sync.OnceValues(func() ([]inputDoc, error) {
	var docs []inputDoc
	err := fs.WalkDir(inputFS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || path.Ext(p) != ".yml" {
			return nil
		}
		b, err := inputFS.ReadFile(p)
		if err != nil {
			return err
		}
		var doc inputDoc
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("embedded %s: %w", p, err)
		}
		docs = append(docs, doc)
		return nil
	})
	return docs, err
})

// renderInputDocs documents, in a collapsible section each, the inputs the
// package's data streams use, by input name; inputs without documentation
// are left out.
func renderInputDocs(pkgDir string) (string, error) {
	inputs, err := dataStreamInputs(pkgDir)
	if err != nil {
		return "", err
	}
	if len(inputs) == 0 {
		return "", nil
	}
	docs, err := inputDocs()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("These inputs can be used with this integration:\n")
	for _, in := range inputs {
		for _, d := range docs {
			if d.Name == in {
				fmt.Fprintf(&b, "<details>\n<summary>%s</summary>\n\n%s\n</details>\n", d.Name, d.Documentation)
				break
			}
		}
	}
	return b.String(), nil
}

// dataStreamInputs returns, sorted, the distinct inputs of the streams of
// every data_stream/**/manifest.yml. An unreadable or unparsable manifest
// is skipped, as elastic-package does (validation reports it).
func dataStreamInputs(pkgDir string) ([]string, error) {
	root := filepath.Join(pkgDir, "data_stream")
	if _, err := os.Stat(root); os.IsNotExist(err) {
		return nil, nil
	}
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name() != "manifest.yml" {
			return nil
		}
		b, err := readLimited(p, 4<<20)
		if err != nil {
			return nil
		}
		var m struct {
			Streams []struct {
				Input string `yaml:"input"`
			} `yaml:"streams"`
		}
		if yaml.Unmarshal(b, &m) != nil {
			return nil
		}
		for _, s := range m.Streams {
			if s.Input != "" {
				seen[s.Input] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find data stream inputs: %w", err)
	}
	out := make([]string, 0, len(seen))
	for in := range seen {
		out = append(out, in)
	}
	sort.Strings(out)
	return out, nil
}
