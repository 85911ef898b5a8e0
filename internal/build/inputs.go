package build

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"

	"go.yaml.in/yaml/v3"

	"pkgstore/internal/packageid"
)

// maxInputPackage bounds a downloaded input package.
const maxInputPackage = 256 << 20

// stepInputTemplates bundles, for an integration whose manifest lists
// requires.input, the agent templates of each required input package into
// the data streams whose streams name it (`package: NAME`): the templates
// are copied to data_stream/DS/agent/stream/NAME-TEMPLATE and the stream's
// template_paths lists them first, then the stream's own template(s).
func stepInputTemplates(ctx context.Context, _ string, t *Tree, cfg *Config) error {
	man, err := readTreeManifest(t)
	if err != nil {
		return err
	}
	if man.Type != "integration" || len(man.Requires.Input) == 0 {
		return nil
	}
	inputs := map[string]map[string][]byte{} // package -> agent/input file -> content
	order := map[string][]string{}
	for _, dep := range man.Requires.Input {
		files, names, err := fetchInputTemplates(ctx, cfg, dep.Package, dep.Version)
		if err != nil {
			return fmt.Errorf("required input package %s %s: %w", dep.Package, dep.Version, err)
		}
		inputs[dep.Package], order[dep.Package] = files, names
	}
	for _, name := range t.Glob("data_stream/*/manifest.yml") {
		b, err := t.ReadFile(name)
		if err != nil {
			return err
		}
		var ds struct {
			Streams []struct {
				Package       string   `yaml:"package"`
				TemplatePath  string   `yaml:"template_path"`
				TemplatePaths []string `yaml:"template_paths"`
			} `yaml:"streams"`
		}
		if err := yaml.Unmarshal(b, &ds); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		var doc *yaml.Node
		dir := path.Dir(name)
		for i, s := range ds.Streams {
			if s.Package == "" {
				continue
			}
			files, ok := inputs[s.Package]
			if !ok {
				return fmt.Errorf("%s: stream %d uses input package %q, which requires.input does not list", name, i, s.Package)
			}
			if doc == nil {
				doc = &yaml.Node{}
				if err := yaml.Unmarshal(b, doc); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
			var paths []string
			for _, tn := range order[s.Package] {
				dest := s.Package + "-" + tn
				t.WriteFile(dir+"/agent/stream/"+dest, files[tn])
				paths = append(paths, dest)
			}
			switch {
			case len(s.TemplatePaths) > 0:
				paths = append(paths, s.TemplatePaths...)
			case s.TemplatePath != "":
				paths = append(paths, s.TemplatePath)
			}
			if err := setTemplatePaths(doc, i, paths); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		if doc != nil {
			out, err := encodeYAML(doc)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			t.WriteFile(name, out)
		}
	}
	return nil
}

// fetchInputTemplates downloads NAME-VERSION.zip from the registry and
// returns the templates its policy templates declare (agent/input/…), in
// declared order without repeats.
func fetchInputTemplates(ctx context.Context, cfg *Config, name, version string) (map[string][]byte, []string, error) {
	id := packageid.ID{Name: name, Version: version}
	if err := id.Validate(); err != nil {
		return nil, nil, err
	}
	base := cfg.Registry
	if base == "" {
		base = DefaultRegistry
	}
	u, err := url.JoinPath(base, "epr", name, id.ZipName())
	if err != nil {
		return nil, nil, fmt.Errorf("registry URL %q: %w", base, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	client := cfg.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil, fmt.Errorf("%s is not in the registry %s (HTTP 404 from %s)", id, base, u)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("download %s: HTTP %s", u, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxInputPackage+1))
	if err != nil {
		return nil, nil, fmt.Errorf("download %s: %w", u, err)
	}
	if len(b) > maxInputPackage {
		return nil, nil, fmt.Errorf("download %s: larger than %d bytes", u, maxInputPackage)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", u, err)
	}
	root := id.String() + "/"
	read := func(p string) ([]byte, error) {
		f, err := zr.Open(root + p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		defer f.Close()
		return io.ReadAll(io.LimitReader(f, maxInputPackage))
	}
	mb, err := read("manifest.yml")
	if err != nil {
		return nil, nil, err
	}
	var m treeManifest
	if err := yaml.Unmarshal(mb, &m); err != nil {
		return nil, nil, fmt.Errorf("manifest.yml: %w", err)
	}
	if m.Type != "input" {
		return nil, nil, fmt.Errorf("%s is a package of type %q, not an input package", id, m.Type)
	}
	files := map[string][]byte{}
	var names []string
	for _, pt := range m.PolicyTemplates {
		list := pt.TemplatePaths
		if len(list) == 0 && pt.TemplatePath != "" {
			list = []string{pt.TemplatePath}
		}
		for _, tn := range list {
			if _, seen := files[tn]; seen {
				continue
			}
			if tn == "" || strings.Contains(tn, "/") || strings.Contains(tn, "\\") || tn == ".." {
				return nil, nil, fmt.Errorf("template %q: must be a file name in agent/input", tn)
			}
			c, err := read("agent/input/" + tn)
			if err != nil {
				return nil, nil, fmt.Errorf("template %q declared in manifest: %w", tn, err)
			}
			files[tn] = c
			names = append(names, tn)
		}
	}
	return files, names, nil
}

// setTemplatePaths sets streams[i].template_paths to paths and removes
// template_path.
func setTemplatePaths(doc *yaml.Node, i int, paths []string) error {
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("manifest is not a mapping")
	}
	var streams *yaml.Node
	for j := 0; j+1 < len(root.Content); j += 2 {
		if root.Content[j].Value == "streams" {
			streams = root.Content[j+1]
		}
	}
	if streams == nil || streams.Kind != yaml.SequenceNode || i >= len(streams.Content) || streams.Content[i].Kind != yaml.MappingNode {
		return fmt.Errorf("streams[%d] is not a mapping", i)
	}
	s := streams.Content[i]
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for _, p := range paths {
		seq.Content = append(seq.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: p})
	}
	out := s.Content[:0:0]
	set := false
	for j := 0; j+1 < len(s.Content); j += 2 {
		switch s.Content[j].Value {
		case "template_path":
			continue
		case "template_paths":
			out = append(out, s.Content[j], seq)
			set = true
			continue
		}
		out = append(out, s.Content[j], s.Content[j+1])
	}
	if !set {
		out = append(out, &yaml.Node{Kind: yaml.ScalarNode, Value: "template_paths"}, seq)
	}
	s.Content = out
	return nil
}
