// Package packagedoc builds the package document EPR serves at
// /package/NAME/VERSION/ (and stores in the index as package_manifest) from
// a package's files, the way EPR 1.40.1 builds it: the document's shape is
// types.go, filled from the manifests by ucfg.go's reading rules and the
// derivations below. It is built once at publish time, so the registry
// never opens zips.
package packagedoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Options carry facts not found in the package files.
type Options struct {
	// Signed adds signature_path: the revision has a detached signature.
	Signed bool
	// FileOrder, when set, lists the package's files (paths relative to the
	// package root, as in the zip) in zip-entry order. EPR lists assets and
	// data streams level by level in zip-entry order for zipped packages
	// and in lexical order for folders; without FileOrder the lexical order
	// is used.
	FileOrder []string
}

// ErrNoManifest is returned when the package root has no manifest.yml.
var ErrNoManifest = errors.New("manifest.yml not found at the package root")

// maxManifestSize bounds what Build reads of one YAML file: manifests are
// small, and the job's zip limits are not the only line of defence.
const maxManifestSize = 4 << 20

// validReleases are the release values EPR accepts.
var validReleases = map[string]bool{"experimental": true, "beta": true, "ga": true}

// Build reads the package rooted at fsys and returns its document. Any
// input EPR would refuse to load is an error; Build never panics on package
// content.
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
	b := builder{fsys: fsys, p: p, base: "/package/" + p.Name + "/" + p.Version, order: opts.FileOrder}
	if err := b.manifest(v, opts); err != nil {
		return nil, err
	}
	if err := b.files(); err != nil {
		return nil, err
	}
	fromManifest := len(p.DataStreams)
	if err := b.dataStreams(); err != nil {
		return nil, err
	}
	// The loaded data streams follow those a manifest's own "data_streams"
	// list brought, in both forms, as in EPR.
	for _, d := range p.DataStreams[fromManifest:] {
		p.BaseDataStreams = append(p.BaseDataStreams, &BaseDataStream{
			Type: d.Type, Dataset: d.Dataset, Title: d.Title, Deprecated: d.Deprecated,
		})
	}
	return p, nil
}

func readFile(fsys fs.FS, name string) ([]byte, error) {
	// One open for the size check and the read: in a zip, each open
	// looks the entry up again.
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > maxManifestSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxManifestSize)
	}
	data := make([]byte, 0, st.Size()+1)
	for {
		n, err := f.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if errors.Is(err, io.EOF) {
			return data, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		if len(data) > maxManifestSize {
			return nil, fmt.Errorf("%s: larger than %d bytes", name, maxManifestSize)
		}
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
	}
}

// decodeManifest reads a manifest into out as EPR's loader does (ucfg.go).
func decodeManifest(data []byte, out any) error {
	m, err := parseUcfg(data)
	if err != nil {
		return err
	}
	return unpack(m, out)
}

type builder struct {
	fsys  fs.FS
	p     *Package
	base  string   // /package/N/V
	order []string // zip-entry order, or nil
	// list is the package's regular files in asset order (listFiles),
	// read once by files and used again by dataStreams.
	list []string
}

// manifest completes what the package manifest says, in EPR's order.
func (b *builder) manifest(v *semver.Version, opts Options) error {
	p := b.p
	t := true
	for i := range p.PolicyTemplates {
		pt := &p.PolicyTemplates[i]
		if pt.Multiple == nil {
			pt.Multiple = &t
		}
		b.images(pt.Icons)
		b.images(pt.Screenshots)
		// Without docs/NAME.md the manifest's readme (if any) stays.
		doc := path.Join("docs", pt.Name+".md")
		if st, err := fs.Stat(b.fsys, doc); err == nil {
			if st.IsDir() {
				return fmt.Errorf("%s is a directory", doc)
			}
			r := path.Join(b.base, doc)
			pt.Readme = &r
		}
		// Input packages: the input's method replaces the manifest's,
		// even with nothing when the input has none.
		if dm := pt.DeploymentModes; dm != nil && dm.Agentless != nil {
			if r := dm.Agentless.Release; r != "" && r != "beta" && r != "ga" {
				return fmt.Errorf("manifest.yml: policy template %q: invalid agentless release: %q", pt.Name, r)
			}
		}
		if p.Type == "input" && pt.Input != "" {
			pt.IngestionMethod = ingestionMethods[pt.Input]
		}
		p.BasePolicyTemplates = append(p.BasePolicyTemplates, BasePolicyTemplate{
			Name: pt.Name, Title: pt.Title, Description: pt.Description, Icons: pt.Icons,
			Categories: pt.Categories, DeploymentModes: pt.DeploymentModes,
			DataStreams: pt.DataStreams, Deprecated: pt.Deprecated,
		})
	}
	if p.Type == "" {
		p.Type = "integration"
	}
	if p.License == "" {
		p.License = "basic"
		if c := p.Conditions; c != nil && c.Elastic != nil && c.Elastic.Subscription != "" {
			p.License = c.Elastic.Subscription
		}
	}
	// Version constraints and format_version, which EPR's loader also
	// parses, are checked by catalog.Check for every document the job
	// publishes, with the message that says why it matters.
	b.images(p.Icons)
	b.images(p.Screenshots)
	if p.Release == "" {
		p.Release = "ga"
		if v.Major() == 0 || v.Prerelease() != "" {
			p.Release = "beta"
		}
	}
	if !validReleases[p.Release] {
		return fmt.Errorf("manifest.yml: invalid release: %q", p.Release)
	}
	// Unknown package-level categories are dropped, as EPR's loader does.
	p.Categories = slices.DeleteFunc(p.Categories, func(c string) bool {
		_, ok := LookupCategory(c)
		return !ok
	})
	st, err := fs.Stat(b.fsys, "docs/README.md")
	if err != nil {
		return fmt.Errorf("no readme file found, docs/README.md is required: %w", err)
	}
	if st.IsDir() {
		return errors.New("docs/README.md is a directory")
	}
	r := b.base + "/docs/README.md"
	p.Readme = &r
	p.Download = "/epr/" + p.Name + "/" + p.Name + "-" + p.Version + ".zip"
	p.Path = b.base
	p.SignaturePath = ""
	if opts.Signed {
		p.SignaturePath = p.Download + ".sig"
	}
	return nil
}

func (b *builder) images(in []Image) {
	for i := range in {
		in[i].Path = path.Join(b.base, in[i].Src)
	}
}

// listFiles returns the package's regular files level by level (depth 1,
// then 2, ...), in zip-entry order inside a level when known, else lexical;
// or, walking, the first folder whose name contains "-" (EPR refuses such
// a package), as an error.
func (b *builder) listFiles() ([]string, error) {
	type file struct {
		path  string
		depth int
		rank  int
		key   string // component-wise order, as a directory walk yields them
	}
	var files []file
	err := fs.WalkDir(b.fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != "." && !strings.Contains(p, ".DS_Store") && strings.Contains(d.Name(), "-") {
			return fmt.Errorf("folder name inside the package contains -: %s", p)
		}
		regular := d.Type().IsRegular()
		if d.Type()&fs.ModeSymlink != 0 {
			// EPR stats what it walks in a folder package: a link to a
			// file is an asset, a dangling link fails the load. A link
			// the FS does not follow (out of an os.Root, inside a zip)
			// stays out, as before.
			fi, err := fs.Stat(b.fsys, p)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return fmt.Errorf("loading package assets failed: stat %s: %w", p, err)
			case err == nil:
				regular = fi.Mode().IsRegular()
			}
		}
		if regular {
			files = append(files, file{path: p, depth: strings.Count(p, "/"), key: strings.ReplaceAll(p, "/", "\x00")})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(b.order) > 0 {
		rank := make(map[string]int, len(b.order))
		for i, f := range b.order {
			rank[strings.TrimSuffix(f, "/")] = i + 1
		}
		for i := range files {
			files[i].rank = rank[files[i].path]
		}
	}
	sort.SliceStable(files, func(i, j int) bool {
		fi, fj := &files[i], &files[j]
		if fi.depth != fj.depth {
			return fi.depth < fj.depth
		}
		if fi.rank != fj.rank && fi.rank != 0 && fj.rank != 0 {
			return fi.rank < fj.rank
		}
		return fi.key < fj.key
	})
	out := make([]string, len(files))
	for i := range files {
		out[i] = files[i].path
	}
	return out, nil
}

// files sets assets: every regular file but those whose path contains
// ".DS_Store" (EPR's test is a substring match). EPR refuses a package with
// a folder whose name contains "-".
func (b *builder) files() error {
	files, err := b.listFiles()
	if err != nil {
		return err
	}
	b.list = files
	b.p.Assets = make([]string, 0, len(files))
	for _, f := range files {
		if strings.Contains(f, ".DS_Store") {
			continue
		}
		b.p.Assets = append(b.p.Assets, b.base+"/"+f)
	}
	return nil
}

// dataStreams reads data_stream/*/manifest.yml in asset order.
func (b *builder) dataStreams() error {
	files := b.list
	p := b.p
	for _, f := range files {
		parts := strings.Split(f, "/")
		if len(parts) != 3 || parts[0] != "data_stream" || parts[2] != "manifest.yml" {
			continue
		}
		dir := parts[1]
		data, err := readFile(b.fsys, f)
		if err != nil {
			return err
		}
		// The manifest may override package and path (EPR fills them
		// before reading it).
		ds := &DataStream{Package: p.Name, Path: dir}
		if err := decodeManifest(data, ds); err != nil {
			return fmt.Errorf("parse %s: %w", f, err)
		}
		if ds.Dataset == "" {
			ds.Dataset = p.Name + "." + dir
		}
		if ds.Release == "" {
			ds.Release = p.Release
		}
		t := true
		for i := range ds.Streams {
			s := &ds.Streams[i]
			if s.Enabled == nil {
				s.Enabled = &t
			}
			if s.TemplatePath == "" {
				s.TemplatePath = "stream.yml.hbs"
			}
			// A known input's method replaces the manifest's; for
			// other inputs the manifest's stays.
			if m, ok := ingestionMethods[s.Input]; ok {
				s.IngestionMethod = m
			}
		}
		if !validReleases[ds.Release] {
			return fmt.Errorf("%s: invalid release: %q", f, ds.Release)
		}
		pipes, err := fs.Glob(b.fsys, "data_stream/"+dir+"/elasticsearch/ingest_pipeline/*")
		if err != nil {
			return fmt.Errorf("list ingest pipelines of %s: %w", dir, err)
		}
		hasDefault := slices.ContainsFunc(pipes, func(p string) bool {
			return path.Base(p) == "default.json" || path.Base(p) == "default.yml"
		})
		switch {
		case ds.Elasticsearch != nil && ds.Elasticsearch.IngestPipelineName == "":
			if hasDefault {
				ds.Elasticsearch.IngestPipelineName = "default"
				ds.IngestPipeline = "default"
			}
		case ds.IngestPipeline == "":
			if hasDefault {
				ds.IngestPipeline = "default"
			}
		}
		// EPR refuses to load (and to start with) a data stream whose
		// pipelines no ingest_pipeline names.
		if ds.IngestPipeline == "" && len(pipes) > 0 {
			return fmt.Errorf("%s: unused pipelines in the package (dataset: %s): %s", f, ds.Dataset, strings.Join(pipes, ","))
		}
		p.DataStreams = append(p.DataStreams, ds)
	}
	return nil
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
