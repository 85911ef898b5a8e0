package builder

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/pkg/yamldoc"
)

// maxInputPackage bounds a downloaded input package.
const maxInputPackage = 256 << 20

// datasetVar is never bundled from an input package into a data stream: an
// integration fixes its dataset by the data stream's name.
const datasetVar = "data_stream.dataset"

// inputPackage is what a composable integration takes from one required
// input package.
type inputPackage struct {
	name        string
	input       string // policy_templates[0].input: the input type it stands for
	title       string
	description string
	templates   []string          // agent/input templates, declared order, no repeats
	files       map[string][]byte // template -> content
	varOrder    []string          // vars of all policy templates, first wins
	vars        map[string]*yaml.Node
	fields      []*yaml.Node // fields/*.yml entries, in file order
}

// stepInputTemplates makes a composable integration (requires.input)
// self-contained, as elastic-package does: for every data stream stream
// with `package: NAME` the input package's agent templates are copied to
// data_stream/DS/agent/stream/NAME-TEMPLATE and listed first in the
// stream's template_paths; the input package's variables are merged (the
// integration's settings win; policy template input vars are promoted to
// the input, the rest go to the stream, hidden unless the integration sets
// them; data_stream.dataset is dropped); its fields that the data stream
// lacks go to data_stream/DS/fields/NAME-fields.yml; and `package:`
// references become the input type (`type:` on policy template inputs,
// `input:` on streams).
func stepInputTemplates(ctx context.Context, _ string, t *Tree, cfg *Config) error {
	man, err := readTreeManifest(t)
	if err != nil {
		return err
	}
	if man.Type != "integration" || len(man.Requires.Input) == 0 {
		return nil
	}
	pkgs := map[string]*inputPackage{}
	var errs []error
	for _, dep := range man.Requires.Input {
		if _, done := pkgs[dep.Package]; done {
			continue
		}
		p, err := fetchInputPackage(ctx, cfg, dep.Package, dep.Version)
		if err != nil {
			errs = append(errs, fmt.Errorf("required input package %s %s: %w", dep.Package, dep.Version, err))
			continue
		}
		pkgs[dep.Package] = p
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	c := &composer{t: t, pkgs: pkgs}
	if err := c.load(); err != nil {
		return err
	}
	for _, f := range []func() error{c.streamTemplates, c.mergeVars, c.bundleFields, c.resolveInputTypes} {
		if err := f(); err != nil {
			return err
		}
	}
	return c.save()
}

// composer holds the manifests being rewritten.
type composer struct {
	t       *Tree
	pkgs    map[string]*inputPackage
	root    *yaml.Node            // manifest.yml's mapping
	ds      map[string]*yaml.Node // data stream name -> its manifest's mapping
	dsNames []string
}

func docRoot(b []byte, name string) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yamldoc.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s is not a mapping", name)
	}
	return doc.Content[0], nil
}

func (c *composer) load() error {
	b, err := c.t.ReadFile("manifest.yml")
	if err != nil {
		return err
	}
	if c.root, err = docRoot(b, "manifest.yml"); err != nil {
		return err
	}
	c.ds = map[string]*yaml.Node{}
	for _, name := range c.t.Glob("data_stream/*/manifest.yml") {
		b, err := c.t.ReadFile(name)
		if err != nil {
			return err
		}
		r, err := docRoot(b, name)
		if err != nil {
			return err
		}
		ds := strings.Split(name, "/")[1]
		c.ds[ds] = r
		c.dsNames = append(c.dsNames, ds)
	}
	sort.Strings(c.dsNames)
	return nil
}

func (c *composer) save() error {
	write := func(name string, n *yaml.Node) error {
		out, err := encodeYAML(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{n}})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		c.t.WriteFile(name, out)
		return nil
	}
	if err := write("manifest.yml", c.root); err != nil {
		return err
	}
	for _, ds := range c.dsNames {
		if err := write("data_stream/"+ds+"/manifest.yml", c.ds[ds]); err != nil {
			return err
		}
	}
	return nil
}

// pkgInputs calls f for every policy template input that names a package.
func (c *composer) pkgInputs(f func(pt, in *yaml.Node, pkg string) error) error {
	pts := mapValue(c.root, "policy_templates")
	if pts == nil || pts.Kind != yaml.SequenceNode {
		return nil
	}
	for _, pt := range pts.Content {
		ins := mapValue(pt, "inputs")
		if ins == nil || ins.Kind != yaml.SequenceNode {
			continue
		}
		for _, in := range ins.Content {
			if pkg := scalar(mapValue(in, "package")); pkg != "" {
				if err := f(pt, in, pkg); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// pkgStreams calls f for every data stream stream that names a package.
func (c *composer) pkgStreams(f func(ds string, s *yaml.Node, pkg string) error) error {
	for _, ds := range c.dsNames {
		streams := mapValue(c.ds[ds], "streams")
		if streams == nil || streams.Kind != yaml.SequenceNode {
			continue
		}
		for i, s := range streams.Content {
			pkg := scalar(mapValue(s, "package"))
			if pkg == "" {
				continue
			}
			if _, ok := c.pkgs[pkg]; !ok {
				return fmt.Errorf("data_stream/%s/manifest.yml: streams[%d] uses input package %q, which requires.input does not list", ds, i, pkg)
			}
			if err := f(ds, s, pkg); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *composer) streamTemplates() error {
	return c.pkgStreams(func(ds string, s *yaml.Node, pkg string) error {
		p := c.pkgs[pkg]
		if len(p.templates) == 0 {
			return nil
		}
		var paths []string
		for _, tn := range p.templates {
			dest := pkg + "-" + tn
			c.t.WriteFile("data_stream/"+ds+"/agent/stream/"+dest, p.files[tn])
			paths = append(paths, dest)
		}
		if tp := scalar(mapValue(s, "template_path")); tp != "" {
			paths = append(paths, tp)
		} else if tps := mapValue(s, "template_paths"); tps != nil && tps.Kind == yaml.SequenceNode {
			for _, n := range tps.Content {
				paths = append(paths, n.Value)
			}
		}
		removeKey(s, "template_path")
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, x := range paths {
			seq.Content = append(seq.Content, str(x))
		}
		setKey(s, "template_paths", seq)
		return nil
	})
}

type scopeKey struct{ pkg, ds string }

func (c *composer) mergeVars() error {
	// Vars the integration sets on a package input are promoted to the
	// input, for each data stream of its policy template ("" for all).
	promoted := map[scopeKey]map[string]*yaml.Node{}
	err := c.pkgInputs(func(pt, in *yaml.Node, pkg string) error {
		vars, err := varNodes(in)
		if err != nil || len(vars) == 0 {
			return err
		}
		byName := map[string]*yaml.Node{}
		for _, v := range vars {
			byName[scalar(mapValue(v, "name"))] = v
		}
		for _, ds := range dataStreamsOf(pt) {
			promoted[scopeKey{pkg, ds}] = byName
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = c.pkgInputs(func(pt, in *yaml.Node, pkg string) error {
		p, ok := c.pkgs[pkg]
		if !ok || len(p.varOrder) == 0 {
			return nil
		}
		overrides := map[string]*yaml.Node{}
		for _, ds := range dataStreamsOf(pt) {
			for k, v := range promoted[scopeKey{pkg, ds}] {
				overrides[k] = v
			}
		}
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, name := range p.varOrder {
			if o, ok := overrides[name]; ok {
				seq.Content = append(seq.Content, mergeVar(p.vars[name], o))
			}
		}
		if len(seq.Content) > 0 {
			setKey(in, "vars", seq)
		} else {
			removeKey(in, "vars")
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.pkgStreams(func(ds string, s *yaml.Node, pkg string) error {
		p := c.pkgs[pkg]
		if len(p.varOrder) == 0 {
			return nil
		}
		promotedNames := map[string]bool{}
		for _, k := range []scopeKey{{pkg, ds}, {pkg, ""}} {
			for n := range promoted[k] {
				promotedNames[n] = true
			}
		}
		own, err := varNodes(s)
		if err != nil {
			return fmt.Errorf("data_stream/%s/manifest.yml: %w", ds, err)
		}
		ownByName := map[string]*yaml.Node{}
		for _, v := range own {
			n := scalar(mapValue(v, "name"))
			if _, dup := ownByName[n]; dup {
				return fmt.Errorf("data_stream/%s/manifest.yml: duplicate variable %q", ds, n)
			}
			ownByName[n] = v
		}
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, name := range p.varOrder {
			if promotedNames[name] || name == datasetVar {
				continue
			}
			if o, ok := ownByName[name]; ok {
				seq.Content = append(seq.Content, mergeVar(p.vars[name], o))
				continue
			}
			// Not configured by the integration: bundled, hidden.
			v := cloneNode(p.vars[name])
			setKey(v, "show_user", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "false"})
			seq.Content = append(seq.Content, v)
		}
		for _, v := range own {
			name := scalar(mapValue(v, "name"))
			if _, inBase := p.vars[name]; !inBase || name == datasetVar {
				seq.Content = append(seq.Content, cloneNode(v))
			}
		}
		if len(seq.Content) > 0 {
			setKey(s, "vars", seq)
		} else {
			removeKey(s, "vars")
		}
		return nil
	})
}

// dataStreamsOf returns a policy template's data_streams, or [""] when it
// lists none.
func dataStreamsOf(pt *yaml.Node) []string {
	var out []string
	if l := mapValue(pt, "data_streams"); l != nil && l.Kind == yaml.SequenceNode {
		for _, n := range l.Content {
			out = append(out, n.Value)
		}
	}
	if len(out) == 0 {
		out = []string{""}
	}
	return out
}

// mergeVar is base with every key of override but name.
func mergeVar(base, override *yaml.Node) *yaml.Node {
	out := cloneNode(base)
	for i := 0; i+1 < len(override.Content); i += 2 {
		if k := override.Content[i].Value; k != "name" {
			setKey(out, k, cloneNode(override.Content[i+1]))
		}
	}
	return out
}

func varNodes(n *yaml.Node) ([]*yaml.Node, error) {
	v := mapValue(n, "vars")
	if v == nil || (v.Kind == yaml.ScalarNode && v.Tag == "!!null") {
		return nil, nil
	}
	if v.Kind != yaml.SequenceNode {
		return nil, errors.New("vars is not a list")
	}
	for _, e := range v.Content {
		if e.Kind != yaml.MappingNode {
			return nil, errors.New("a var is not a mapping")
		}
	}
	return v.Content, nil
}

func (c *composer) bundleFields() error {
	return c.pkgStreams(func(ds string, _ *yaml.Node, pkg string) error {
		p := c.pkgs[pkg]
		if len(p.fields) == 0 {
			return nil
		}
		have := map[string]bool{}
		for _, name := range c.t.Glob("data_stream/" + ds + "/fields/*.yml") {
			b, err := c.t.ReadFile(name)
			if err != nil {
				return err
			}
			var list []map[string]any
			if err := yaml.Unmarshal(b, &list); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			for _, f := range list {
				if n, _ := f["name"].(string); n != "" {
					have[n] = true
				}
			}
		}
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, f := range p.fields {
			n := scalar(mapValue(f, "name"))
			if n == "" || have[n] {
				continue
			}
			have[n] = true
			seq.Content = append(seq.Content, cloneNode(f))
		}
		if len(seq.Content) == 0 {
			return nil
		}
		out, err := encodeYAML(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{seq}})
		if err != nil {
			return err
		}
		c.t.WriteFile("data_stream/"+ds+"/fields/"+pkg+"-fields.yml", out)
		return nil
	})
}

func (c *composer) resolveInputTypes() error {
	// A policy template with two packages of the same input type tells them
	// apart by name: the package's.
	refs := map[string]string{}
	pts := mapValue(c.root, "policy_templates")
	if pts != nil && pts.Kind == yaml.SequenceNode {
		for _, pt := range pts.Content {
			ins := mapValue(pt, "inputs")
			if ins == nil || ins.Kind != yaml.SequenceNode {
				continue
			}
			count := map[string]int{}
			for _, in := range ins.Content {
				if p, ok := c.pkgs[scalar(mapValue(in, "package"))]; ok {
					count[p.input]++
				}
			}
			for _, in := range ins.Content {
				name := scalar(mapValue(in, "package"))
				p, ok := c.pkgs[name]
				if !ok {
					continue
				}
				if count[p.input] > 1 {
					refs[name] = name
				} else if _, set := refs[name]; !set {
					refs[name] = p.input
				}
			}
		}
	}
	err := c.pkgInputs(func(_, in *yaml.Node, pkg string) error {
		p, ok := c.pkgs[pkg]
		if !ok {
			return fmt.Errorf("manifest.yml: a policy template input uses input package %q, which requires.input does not list", pkg)
		}
		setKey(in, "type", str(p.input))
		if refs[pkg] == pkg {
			setKey(in, "name", str(pkg))
		}
		if mapValue(in, "title") == nil && p.title != "" {
			setKey(in, "title", str(p.title))
		}
		if mapValue(in, "description") == nil && p.description != "" {
			setKey(in, "description", str(p.description))
		}
		removeKey(in, "package")
		return nil
	})
	if err != nil {
		return err
	}
	return c.pkgStreams(func(ds string, s *yaml.Node, pkg string) error {
		p := c.pkgs[pkg]
		ref, ok := refs[pkg]
		if !ok {
			ref = p.input
		}
		setKey(s, "input", str(ref))
		if scalar(mapValue(s, "title")) == "" && p.title != "" {
			setKey(s, "title", str(p.title))
		}
		if scalar(mapValue(s, "description")) == "" && p.description != "" {
			setKey(s, "description", str(p.description))
		}
		removeKey(s, "package")
		return nil
	})
}

// fetchInputPackage downloads NAME-VERSION.zip from the registry's
// /epr/NAME/ path and reads what a composable integration takes from it.
func fetchInputPackage(ctx context.Context, cfg *Config, name, version string) (*inputPackage, error) {
	id := packageid.ID{Name: name, Version: version}
	if err := id.Validate(); err != nil {
		return nil, err
	}
	base := cfg.Registry
	if base == "" {
		base = DefaultRegistry
	}
	u, err := url.JoinPath(base, "epr", name, id.ZipName())
	if err != nil {
		return nil, fmt.Errorf("registry URL %q: %w", base, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	client := cfg.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("%s is not in the registry %s (HTTP 404 from %s)", id, base, u)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download %s: HTTP %s", u, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxInputPackage+1))
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", u, err)
	}
	if len(b) > maxInputPackage {
		return nil, fmt.Errorf("download %s: larger than %d bytes", u, maxInputPackage)
	}
	if cfg.InputKeyring != nil {
		if err := verifyInputPackage(ctx, client, cfg.InputKeyring, u, b); err != nil {
			return nil, err
		}
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	fsys, err := fs.Sub(zr, id.String())
	if err != nil {
		return nil, err
	}
	return readInputPackage(fsys, id)
}

// verifyInputPackage checks the registry's detached signature of the zip
// downloaded from u.
func verifyInputPackage(ctx context.Context, client *http.Client, kr *signature.Keyring, u string, zip []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+".sig", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("download signature: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download signature %s.sig: HTTP %s", u, resp.Status)
	}
	sig, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("download signature %s.sig: %w", u, err)
	}
	if _, err := kr.Verify(bytes.NewReader(zip), bytes.NewReader(sig)); err != nil {
		return fmt.Errorf("signature of %s: %w", u, err)
	}
	return nil
}

// readInputPackage reads an input package's manifest, declared templates
// and fields.
func readInputPackage(fsys fs.FS, id packageid.ID) (*inputPackage, error) {
	read := func(p string) ([]byte, error) {
		f, err := fsys.Open(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		defer f.Close()
		return io.ReadAll(io.LimitReader(f, maxInputPackage))
	}
	mb, err := read("manifest.yml")
	if err != nil {
		return nil, err
	}
	var m struct {
		Name            string `yaml:"name"`
		Title           string `yaml:"title"`
		Description     string `yaml:"description"`
		Type            string `yaml:"type"`
		PolicyTemplates []struct {
			Name          string   `yaml:"name"`
			Input         string   `yaml:"input"`
			TemplatePath  string   `yaml:"template_path"`
			TemplatePaths []string `yaml:"template_paths"`
		} `yaml:"policy_templates"`
	}
	if err := yamldoc.Unmarshal(mb, &m); err != nil {
		return nil, fmt.Errorf("manifest.yml: %w", err)
	}
	if m.Type != "input" {
		return nil, fmt.Errorf("%s is a package of type %q, not an input package", id, m.Type)
	}
	if len(m.PolicyTemplates) == 0 || m.PolicyTemplates[0].Input == "" {
		return nil, fmt.Errorf("%s: its first policy template names no input", id)
	}
	p := &inputPackage{
		name: id.Name, input: m.PolicyTemplates[0].Input, title: m.Title, description: m.Description,
		files: map[string][]byte{}, vars: map[string]*yaml.Node{},
	}
	for _, pt := range m.PolicyTemplates {
		list := pt.TemplatePaths
		if len(list) == 0 && pt.TemplatePath != "" {
			list = []string{pt.TemplatePath}
		}
		for _, tn := range list {
			if _, seen := p.files[tn]; seen {
				continue
			}
			if !fs.ValidPath("agent/input/"+tn) || strings.Contains(tn, "/") {
				return nil, fmt.Errorf("template %q: must be a file name in agent/input", tn)
			}
			c, err := read("agent/input/" + tn)
			if err != nil {
				return nil, fmt.Errorf("template %q declared in the manifest: %w", tn, err)
			}
			p.files[tn] = c
			p.templates = append(p.templates, tn)
		}
	}
	root, err := docRoot(mb, "manifest.yml")
	if err != nil {
		return nil, err
	}
	if pts := mapValue(root, "policy_templates"); pts != nil && pts.Kind == yaml.SequenceNode {
		for _, pt := range pts.Content {
			vars, err := varNodes(pt)
			if err != nil {
				return nil, fmt.Errorf("manifest.yml: %w", err)
			}
			for _, v := range vars {
				n := scalar(mapValue(v, "name"))
				if n == "" || p.vars[n] != nil {
					continue
				}
				p.varOrder = append(p.varOrder, n)
				p.vars[n] = v
			}
		}
	}
	fieldFiles, err := fs.Glob(fsys, "fields/*.yml")
	if err != nil {
		return nil, err
	}
	for _, ff := range fieldFiles {
		b, err := read(ff)
		if err != nil {
			return nil, err
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", ff, err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		if doc.Content[0].Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("%s is not a list of fields", ff)
		}
		p.fields = append(p.fields, doc.Content[0].Content...)
	}
	return p, nil
}

// YAML node helpers.

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func setKey(n *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			n.Content[i+1] = v
			return
		}
	}
	n.Content = append(n.Content, str(key), v)
}

func removeKey(n *yaml.Node, key string) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			n.Content = append(n.Content[:i], n.Content[i+2:]...)
			return
		}
	}
}

func cloneNode(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, x := range n.Content {
		c.Content[i] = cloneNode(x)
	}
	return &c
}
