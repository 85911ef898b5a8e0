package builder

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/Masterminds/semver/v3"
	"go.yaml.in/yaml/v3"

	"pkgstore/internal/builder/buildmanifest"
	"pkgstore/internal/builder/ecs"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/pkg/yamldoc"
)

// Config says where a build finds what lies outside the package.
type Config struct {
	// ECS resolves `external: ecs` fields; nil means a Resolver with its
	// defaults (raw GitHub, the user cache folder).
	ECS *ecs.Resolver
	// Registry is the package registry (EPR API) input packages named in
	// requires.input are downloaded from; "" means DefaultRegistry.
	Registry string
	// Client does registry downloads; nil means http.DefaultClient.
	Client *http.Client
	// InputKeyring, when set, is the keyring the detached signature
	// (NAME-VERSION.zip.sig, from the registry) of every downloaded input
	// package must verify against; nil downloads them unverified.
	InputKeyring *signature.Keyring
	// RepoRoot is the repository the package lives in (where LICENSE.txt is
	// looked for); "" means the nearest folder above the package holding
	// .git, if any.
	RepoRoot string
	// SkipValidation skips the last step: package-spec validation of the
	// built zip in build mode, the check the publishing job makes.
	SkipValidation bool
	// LinksFile is the links table of READMEs' url function; "" means
	// $ELASTIC_PACKAGE_LINKS_FILE_PATH, else REPO/links_table.yml.
	LinksFile string
	// Extra steps run after the built-in ones, before the zip is written.
	Extra []Step
}

// Step is one build step: it reads and rewrites the tree of the package
// whose source folder is src.
type Step struct {
	Name string
	Run  func(ctx context.Context, src string, t *Tree, cfg *Config) error
}

// DefaultRegistry is Elastic's production registry.
const DefaultRegistry = "https://epr.elastic.co"

// LicenseFile is the licence text a built package carries.
const LicenseFile = "LICENSE.txt"

// ElasticPackageRepositoryLicenseEnv names another licence file, relative
// to the repository root, to copy when the package has none: the variable
// elastic-package reads.
const ElasticPackageRepositoryLicenseEnv = "ELASTIC_PACKAGE_REPOSITORY_LICENSE"

// RepositoryLicenseEnv is read when ElasticPackageRepositoryLicenseEnv is
// not set: the name pkgstore documented first (elastic-package ignores it).
const RepositoryLicenseEnv = "REPOSITORY_LICENSE"

// Steps are the build steps in elastic-package's order. Copying (with
// linked files resolved) happens before them, validation after.
var Steps = []Step{
	{"licence", stepLicense},
	{"kibana saved objects", stepEncodeSavedObjects},
	{"external fields", stepExternalFields},
	{"dynamic mappings", stepDynamicMappings},
	{"transforms", stepTransforms},
	{"input package templates", stepInputTemplates},
	{"READMEs", stepReadmes},
}

func runSteps(ctx context.Context, src string, t *Tree, cfg Config) error {
	for _, s := range append(append([]Step(nil), Steps...), cfg.Extra...) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.Run(ctx, src, t, &cfg); err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
	}
	return nil
}

// FindRepoRoot returns the nearest folder at or above dir that holds .git,
// or "" when there is none.
func FindRepoRoot(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// stepLicense copies the repository's licence text into a package that has
// none: REPO/LICENSE.txt, or REPO/$ELASTIC_PACKAGE_REPOSITORY_LICENSE (else
// $REPOSITORY_LICENSE; then it must exist).
// An empty licence file is an error.
func stepLicense(_ context.Context, src string, t *Tree, cfg *Config) error {
	if t.Has(LicenseFile) {
		return nil
	}
	envName := ElasticPackageRepositoryLicenseEnv
	name, userDefined := os.LookupEnv(envName)
	if !userDefined {
		envName = RepositoryLicenseEnv
		name, userDefined = os.LookupEnv(envName)
	}
	if !userDefined {
		name = LicenseFile
	}
	root := cfg.RepoRoot
	if root == "" {
		root = FindRepoRoot(src)
	}
	if root == "" {
		if userDefined {
			return fmt.Errorf("%s=%s: the package is not inside a git repository", envName, name)
		}
		return nil
	}
	if filepath.IsAbs(name) || strings.HasPrefix(filepath.Clean(name), "..") {
		return fmt.Errorf("%s=%s must be a path inside the repository", envName, name)
	}
	b, err := os.ReadFile(filepath.Join(root, name))
	switch {
	case errors.Is(err, fs.ErrNotExist) && !userDefined:
		return nil
	case err != nil:
		return fmt.Errorf("repository licence %s: %w", name, err)
	case len(b) == 0:
		return fmt.Errorf("repository licence %s is empty", filepath.Join(root, name))
	}
	t.WriteFile(LicenseFile, b)
	return nil
}

// savedObjectFields hold JSON that Kibana stores as strings: sources keep
// them as objects for readable diffs; a built package has them encoded.
var savedObjectFields = [][]string{
	{"attributes", "kibanaSavedObjectMeta", "searchSourceJSON"},
	{"attributes", "layerListJSON"},
	{"attributes", "mapStateJSON"},
	{"attributes", "optionsJSON"},
	{"attributes", "panelsJSON"},
	{"attributes", "uiStateJSON"},
	{"attributes", "visState"},
}

// stepEncodeSavedObjects encodes, in every kibana/TYPE/FILE, the fields of
// savedObjectFields that are not strings yet; a file is rewritten (as
// elastic-package writes it) only when one was.
func stepEncodeSavedObjects(_ context.Context, _ string, t *Tree, _ *Config) error {
	for _, name := range t.Glob("kibana/*/*") {
		b, err := t.ReadFile(name)
		if err != nil {
			return err
		}
		var obj map[string]any
		if err := json.Unmarshal(b, &obj); err != nil {
			return fmt.Errorf("%s: saved object is not a JSON object: %w", name, err)
		}
		changed := false
		for _, p := range savedObjectFields {
			parent := obj
			for _, k := range p[:len(p)-1] {
				m, ok := parent[k].(map[string]any)
				if !ok {
					parent = nil
					break
				}
				parent = m
			}
			if parent == nil {
				continue
			}
			v, ok := parent[p[len(p)-1]]
			if !ok {
				continue
			}
			if _, isString := v.(string); isString {
				continue
			}
			enc, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("%s: encode %s: %w", name, strings.Join(p, "."), err)
			}
			parent[p[len(p)-1]] = string(enc)
			changed = true
		}
		if !changed {
			continue
		}
		out, err := json.MarshalIndent(obj, "", "  ")
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		t.WriteFile(name, out)
	}
	return nil
}

// stepExternalFields replaces `external: ecs` fields by their ECS
// definitions, when the build manifest names an ECS reference.
func stepExternalFields(ctx context.Context, src string, t *Tree, cfg *Config) error {
	m, ok, err := buildmanifest.Read(src)
	if err != nil || !ok || !m.HasDependencies() {
		return err
	}
	ref, err := m.ECSRef()
	if err != nil {
		return err
	}
	r := cfg.ECS
	if r == nil {
		r = &ecs.Resolver{}
		cfg.ECS = r
	}
	schema, err := r.Resolve(ctx, ref)
	if err != nil {
		return err
	}
	// Data streams' fields, an input package's own, and transforms'.
	files := append(t.Glob("data_stream/*/fields/*.yml"), t.Glob("fields/*.yml")...)
	files = append(files, t.Glob("elasticsearch/transform/*/fields/*.yml")...)
	for _, name := range files {
		b, err := t.ReadFile(name)
		if err != nil {
			return err
		}
		out, changed, err := schema.InjectFile(b, ecs.InjectOptions{})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if changed {
			t.WriteFile(name, out)
		}
	}
	return nil
}

//go:embed ecs_dynamic_templates.yml
var ecsDynamicTemplates []byte

// dynamicTemplatePrefix starts the names of the ECS dynamic templates added
// to a built package.
const dynamicTemplatePrefix = "_embedded_ecs-"

var minImportMappingsSpec = semver.MustParse("2.3.0")

// stepDynamicMappings appends ECS's dynamic templates to every data stream
// (or an input package's) index template when the build manifest sets
// import_mappings and format_version is 2.3.0 or later.
func stepDynamicMappings(_ context.Context, src string, t *Tree, _ *Config) error {
	bm, ok, err := buildmanifest.Read(src)
	if err != nil || !ok || !bm.ImportMappings() {
		return err
	}
	man, err := readTreeManifest(t)
	if err != nil {
		return err
	}
	v, err := semver.NewVersion(man.FormatVersion)
	if err != nil {
		return fmt.Errorf("manifest.yml: format_version %q: %w", man.FormatVersion, err)
	}
	if v.LessThan(minImportMappingsSpec) {
		return nil
	}
	var targets []string
	switch man.Type {
	case "integration":
		targets = t.Glob("data_stream/*/manifest.yml")
	case "input":
		targets = []string{"manifest.yml"}
	}
	var templates []*yaml.Node
	if len(targets) > 0 {
		var doc yaml.Node
		if err := yaml.Unmarshal(ecsDynamicTemplates, &doc); err != nil {
			return fmt.Errorf("embedded ECS dynamic templates: %w", err)
		}
		templates = doc.Content[0].Content
		for _, tpl := range templates {
			tpl.Content[0].Value = dynamicTemplatePrefix + tpl.Content[0].Value
		}
	}
	for _, name := range targets {
		b, err := t.ReadFile(name)
		if err != nil {
			return err
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if len(doc.Content) == 0 {
			doc.Content = []*yaml.Node{{Kind: yaml.MappingNode}}
		}
		seq, err := ensurePath(doc.Content[0], []string{"elasticsearch", "index_template", "mappings", "dynamic_templates"})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		seq.Content = append(seq.Content, templates...)
		out, err := encodeYAML(&doc)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		t.WriteFile(name, out)
	}
	return nil
}

// ensurePath walks (creating where absent) the mappings along keys and
// returns the node at the end, a sequence.
func ensurePath(n *yaml.Node, keys []string) (*yaml.Node, error) {
	for i, k := range keys {
		if n.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s is not a mapping", strings.Join(keys[:i], "."))
		}
		var next *yaml.Node
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == k {
				next = n.Content[j+1]
				break
			}
		}
		if next == nil || (next.Kind == yaml.ScalarNode && next.Tag == "!!null") {
			kind := yaml.MappingNode
			if i == len(keys)-1 {
				kind = yaml.SequenceNode
			}
			nn := &yaml.Node{Kind: kind}
			if next != nil {
				*next = *nn
				nn = next
			} else {
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, nn)
			}
			next = nn
		}
		n = next
	}
	if n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s is not a list", strings.Join(keys, "."))
	}
	return n, nil
}

func encodeYAML(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// treeManifest is what the steps read of manifest.yml.
type treeManifest struct {
	FormatVersion string `yaml:"format_version"`
	Name          string `yaml:"name"`
	Version       string `yaml:"version"`
	Type          string `yaml:"type"`
	Requires      struct {
		Input []struct {
			Package string `yaml:"package"`
			Version string `yaml:"version"`
		} `yaml:"input"`
	} `yaml:"requires"`
	PolicyTemplates []struct {
		TemplatePath  string   `yaml:"template_path"`
		TemplatePaths []string `yaml:"template_paths"`
	} `yaml:"policy_templates"`
}

func readTreeManifest(t *Tree) (*treeManifest, error) {
	b, err := t.ReadFile("manifest.yml")
	if err != nil {
		return nil, err
	}
	var m treeManifest
	if err := yamldoc.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest.yml: %w", err)
	}
	return &m, nil
}

// stepTransforms renders every elasticsearch/transform/*/transform.yml as
// a Go template whose function ingestPipelineName NAME gives
// "VERSION-NAME", and checks that a destination pipeline exists.
func stepTransforms(_ context.Context, _ string, t *Tree, _ *Config) error {
	files := t.Glob("elasticsearch/transform/*/transform.yml")
	if len(files) == 0 {
		return nil
	}
	man, err := readTreeManifest(t)
	if err != nil {
		return err
	}
	if man.Version == "" {
		return errors.New("manifest.yml: version is not set")
	}
	for _, name := range files {
		b, err := t.ReadFile(name)
		if err != nil {
			return err
		}
		tpl, err := template.New(path.Base(name)).Funcs(template.FuncMap{
			"ingestPipelineName": func(p string) (string, error) {
				if p == "" {
					return "", errors.New("ingest pipeline name is empty")
				}
				return man.Version + "-" + p, nil
			},
		}).Parse(string(b))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		var out bytes.Buffer
		if err := tpl.Execute(&out, nil); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		var def struct {
			Dest struct {
				Pipeline string `yaml:"pipeline"`
			} `yaml:"dest"`
		}
		if err := yaml.Unmarshal(out.Bytes(), &def); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if p := def.Dest.Pipeline; p != "" && !transformPipelineExists(t, man, p) {
			return fmt.Errorf("%s: destination ingest pipeline %s.yml not found: incorrect version used in pipeline or unknown pipeline", name, strings.TrimPrefix(p, man.Version+"-"))
		}
		t.WriteFile(name, out.Bytes())
	}
	return nil
}

// transformPipelineExists finds a transform's destination pipeline as
// elastic-package does: the package's VERSION-NAME, a data stream's
// TYPE-PKG.DS-VERSION-NAME, or any data stream's …-VERSION-NAME.
func transformPipelineExists(t *Tree, man *treeManifest, pipeline string) bool {
	file := strings.TrimPrefix(pipeline, man.Version+"-") + ".yml"
	if t.Has("elasticsearch/ingest_pipeline/" + file) {
		return true
	}
	for _, p := range t.Glob("data_stream/*/elasticsearch/ingest_pipeline/*.yml") {
		parts := strings.Split(p, "/")
		ds, base := parts[1], strings.TrimSuffix(parts[len(parts)-1], ".yml")
		if strings.HasSuffix(file, "-"+man.Name+"."+ds+"-"+man.Version+"-"+base+".yml") ||
			strings.HasSuffix(file, "-"+man.Version+"-"+base+".yml") {
			return true
		}
	}
	return false
}
