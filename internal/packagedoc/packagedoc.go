// Package packagedoc builds the package document EPR serves at
// /package/NAME/VERSION/ (and stores in the index as package_manifest) from
// a package's files, following epr-api.md §2.9, §2.10 and §4.3-§4.5. It is
// built once at publish time, so the registry never opens zips.
package packagedoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"go.yaml.in/yaml/v3"
)

// Options carry facts not found in the package files.
type Options struct {
	// Signed adds signature_path: the revision has a detached signature.
	Signed bool
	// FileOrder, when set, lists the package's files (paths relative to the
	// package root, as in the zip) in zip-entry order. EPR lists assets
	// level by level in zip-entry order for zipped packages and in lexical
	// order for folders; without FileOrder the lexical order is used.
	FileOrder []string
}

// ErrNoManifest is returned when the package root has no manifest.yml.
var ErrNoManifest = errors.New("manifest.yml not found at the package root")

// maxManifestSize bounds what Build reads of one YAML file: manifests are
// small, and the job's zip limits are not the only line of defence.
const maxManifestSize = 4 << 20

// Build reads the package rooted at fsys and returns its document. Any
// malformed input is an error; Build never panics on package content.
func Build(fsys fs.FS, opts Options) (p *Package, err error) {
	defer func() {
		// Third-party decoders are the only possible source of a panic
		// here; turn one into an error rather than crash the job.
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("build package document: %v", r)
		}
	}()
	data, err := readFile(fsys, "manifest.yml")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNoManifest
		}
		return nil, err
	}
	p = &Package{}
	if err := decodeManifest(data, p); err != nil {
		return nil, fmt.Errorf("parse manifest.yml: %w", err)
	}
	if p.Name == "" || p.Version == "" {
		return nil, errors.New("manifest.yml: name and version are required")
	}
	v, err := semver.StrictNewVersion(p.Version)
	if err != nil {
		return nil, fmt.Errorf("manifest.yml: version %q: %w", p.Version, err)
	}
	b := builder{fsys: fsys, p: p, base: "/package/" + p.Name + "/" + p.Version}
	b.defaults(v, opts)
	if err := b.files(opts.FileOrder); err != nil {
		return nil, err
	}
	if err := b.dataStreams(); err != nil {
		return nil, err
	}
	b.policyTemplates()
	b.baseForms()
	return p, nil
}

func readFile(fsys fs.FS, name string) ([]byte, error) {
	st, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxManifestSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxManifestSize)
	}
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return data, nil
}

// decodeManifest decodes a package manifest. Dotted keys are paths, as with
// EPR's go-ucfg loader: "owner.github: x" is "owner: {github: x}".
func decodeManifest(data []byte, out any) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	if len(doc.Content) == 0 {
		return errors.New("empty document")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return errors.New("not a mapping")
	}
	expandDots(root, 0)
	return root.Decode(out)
}

// expandDots rewrites dotted keys of mapping n (recursively) into nested
// mappings, merging with keys already present.
func expandDots(n *yaml.Node, depth int) {
	if depth > 50 {
		return
	}
	switch n.Kind {
	case yaml.SequenceNode:
		for _, c := range n.Content {
			expandDots(c, depth+1)
		}
		return
	case yaml.MappingNode:
	default:
		return
	}
	old := n.Content
	n.Content = nil
	for i := 0; i+1 < len(old); i += 2 {
		k, v := old[i], old[i+1]
		expandDots(v, depth+1)
		setPath(n, strings.Split(k.Value, "."), k, v)
	}
}

func setPath(m *yaml.Node, parts []string, key, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != parts[0] {
			continue
		}
		cur := m.Content[i+1]
		if len(parts) == 1 {
			if cur.Kind == yaml.MappingNode && v.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(v.Content); j += 2 {
					setPath(cur, []string{v.Content[j].Value}, v.Content[j], v.Content[j+1])
				}
			} else {
				m.Content[i+1] = v
			}
			return
		}
		if cur.Kind != yaml.MappingNode {
			cur = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			m.Content[i+1] = cur
		}
		setPath(cur, parts[1:], key, v)
		return
	}
	k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: parts[0], Line: key.Line}
	if len(parts) == 1 {
		m.Content = append(m.Content, k, v)
		return
	}
	sub := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	m.Content = append(m.Content, k, sub)
	setPath(sub, parts[1:], key, v)
}

type builder struct {
	fsys fs.FS
	p    *Package
	base string // /package/N/V
}

func (b *builder) defaults(v *semver.Version, opts Options) {
	p := b.p
	p.Download = "/epr/" + p.Name + "/" + p.Name + "-" + p.Version + ".zip"
	p.Path = b.base
	p.SignaturePath = ""
	if opts.Signed {
		p.SignaturePath = p.Download + ".sig"
	}
	if p.Type == "" {
		p.Type = "integration"
	}
	if p.Release == "" {
		p.Release = "ga"
		if v.Major() == 0 || v.Prerelease() != "" {
			p.Release = "beta"
		}
	}
	if p.License == "" {
		p.License = "basic"
		if c := p.Conditions; c != nil && c.Elastic != nil && c.Elastic.Subscription != "" {
			p.License = c.Elastic.Subscription
		}
	}
	// Unknown package-level categories are dropped, as EPR's loader does.
	p.Categories = slices.DeleteFunc(p.Categories, func(c string) bool {
		_, ok := LookupCategory(c)
		return !ok
	})
	if len(p.Categories) == 0 {
		p.Categories = nil
	}
	if d := p.Discovery; d != nil && len(d.Fields) == 0 && len(d.Datasets) == 0 {
		p.Discovery = nil
	}
	p.Icons = b.images(p.Icons)
	p.Screenshots = b.images(p.Screenshots)
}

func (b *builder) images(in []Image) []Image {
	for i := range in {
		in[i].Path = path.Join(b.base, in[i].Src)
	}
	return in
}

// files sets readme and assets. Assets are every regular file, level by
// level (depth 1, then 2, ...), lexical or zip order inside a level;
// .DS_Store files are skipped.
func (b *builder) files(order []string) error {
	var files []string
	err := fs.WalkDir(b.fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && path.Base(p) != ".DS_Store" {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list package files: %w", err)
	}
	rank := map[string]int{}
	for i, f := range order {
		rank[strings.TrimSuffix(f, "/")] = i + 1
	}
	sort.SliceStable(files, func(i, j int) bool {
		di, dj := strings.Count(files[i], "/"), strings.Count(files[j], "/")
		if di != dj {
			return di < dj
		}
		ri, rj := rank[files[i]], rank[files[j]]
		if ri != rj && ri != 0 && rj != 0 {
			return ri < rj
		}
		// Component-wise, as a directory walk yields them.
		return strings.ReplaceAll(files[i], "/", "\x00") < strings.ReplaceAll(files[j], "/", "\x00")
	})
	b.p.Assets = make([]string, 0, len(files))
	for _, f := range files {
		b.p.Assets = append(b.p.Assets, b.base+"/"+f)
		if f == "docs/README.md" {
			b.p.Readme = b.base + "/docs/README.md"
		}
	}
	return nil
}

func (b *builder) exists(name string) bool {
	st, err := fs.Stat(b.fsys, name)
	return err == nil && st.Mode().IsRegular()
}

// dataStreams reads data_stream/*/manifest.yml (§4.4).
func (b *builder) dataStreams() error {
	entries, err := fs.ReadDir(b.fsys, "data_stream")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read data_stream: %w", err)
	}
	p := b.p
	p.DataStreams = nil
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := e.Name()
		mpath := "data_stream/" + dir + "/manifest.yml"
		data, err := readFile(b.fsys, mpath)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		var ds DataStream
		if err := decodeManifest(data, &ds); err != nil {
			return fmt.Errorf("parse %s: %w", mpath, err)
		}
		if ds.Dataset == "" {
			ds.Dataset = p.Name + "." + dir
		}
		ds.Path = dir
		ds.Package = p.Name
		if ds.Release == "" {
			ds.Release = p.Release
		}
		if ds.IngestPipeline == "" {
			pipeDir := "data_stream/" + dir + "/elasticsearch/ingest_pipeline/"
			if b.exists(pipeDir+"default.json") || b.exists(pipeDir+"default.yml") {
				ds.IngestPipeline = "default"
			}
		}
		for i := range ds.Streams {
			s := &ds.Streams[i]
			if s.TemplatePath == "" {
				s.TemplatePath = "stream.yml.hbs"
			}
			if s.Enabled == nil {
				t := true
				s.Enabled = &t
			}
			if s.IngestionMethod == "" {
				s.IngestionMethod = ingestionMethods[s.Input]
			}
		}
		p.DataStreams = append(p.DataStreams, ds)
	}
	return nil
}

func (b *builder) policyTemplates() {
	for i := range b.p.PolicyTemplates {
		t := &b.p.PolicyTemplates[i]
		if t.Multiple == nil {
			m := true
			t.Multiple = &m
		}
		t.Icons = b.images(t.Icons)
		t.Screenshots = b.images(t.Screenshots)
		if t.Name != "" && b.exists("docs/"+t.Name+".md") {
			t.Readme = b.base + "/docs/" + t.Name + ".md"
		}
		if b.p.Type == "input" && t.IngestionMethod == "" {
			t.IngestionMethod = ingestionMethods[t.Input]
		}
	}
}

// baseForms fills the /search forms of templates and data streams.
func (b *builder) baseForms() {
	p := b.p
	p.BasePolicyTemplates = nil
	for _, t := range p.PolicyTemplates {
		p.BasePolicyTemplates = append(p.BasePolicyTemplates, BasePolicyTemplate{
			Name: t.Name, Title: t.Title, Description: t.Description, Icons: t.Icons,
			Categories: t.Categories, DeploymentModes: t.DeploymentModes,
			DataStreams: t.DataStreams, Deprecated: t.Deprecated,
		})
	}
	p.BaseDataStreams = nil
	for _, d := range p.DataStreams {
		p.BaseDataStreams = append(p.BaseDataStreams, BaseDataStream{
			Type: d.Type, Dataset: d.Dataset, Title: d.Title, Deprecated: d.Deprecated,
		})
	}
}

// Base returns the /search form of p.
func (p *Package) Base() BasePackage { return p.BasePackage }

// Marshal encodes v as EPR does: 2-space indent, no HTML escaping, trailing
// newline.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
