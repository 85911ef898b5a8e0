// Package elasticpackagetest runs the reference builder, elastic-package
// (../shared/reference/elastic-package), for differential tests of
// pkgstore build: it serves the shared ECS schemas on loopback, builds
// source packages with elastic-package inside a git repository, and
// compares built trees file by file (YAML and JSON as data, everything
// else as bytes). Tests skip when ../shared is absent.
package elasticpackagetest

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"pkgstore/internal/testkit/sharedtest"
)

// ServeECS serves the shared ECS schemas (REF/generated/ecs/ecs_nested.yml)
// on loopback until the test ends. It returns the base URL and the folder
// served.
func ServeECS(tb testing.TB) (baseURL, dir string) {
	tb.Helper()
	dir = sharedtest.Unpack(tb, sharedtest.ECSSchemas)
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	tb.Cleanup(srv.Close)
	return srv.URL, dir
}

// Corpus unpacks a shared archive of source packages into a fresh git
// repository (elastic-package needs one) with LinksTable at its root, and
// returns the root.
func Corpus(tb testing.TB, archive string) string {
	tb.Helper()
	root := sharedtest.Unpack(tb, archive)
	Repo(tb, root)
	return root
}

// LinksTable is the links table (links_table.yml, read by READMEs' url
// function and their alerting rule and SLO template sections) at the root
// of the repositories Corpus makes: the keys the test packages' committed
// READMEs were rendered with, in elastic-package's own repository.
const LinksTable = `links:
  elastic-main: https://www.elastic.co/guide
  alert-rule-templates: https://www.elastic.co/docs/reference/fleet/alerting-rule-templates
  slo-templates: https://www.elastic.co/docs/solutions/observability/incident-management/service-level-objectives-slos
`

// Repo makes dir the root of a git repository holding LinksTable.
func Repo(tb testing.TB, dir string) {
	tb.Helper()
	GitInit(tb, dir)
	if err := os.WriteFile(filepath.Join(dir, "links_table.yml"), []byte(LinksTable), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// GitInit makes dir the root of an empty git repository.
func GitInit(tb testing.TB, dir string) {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		tb.Skip("git not installed: elastic-package builds only inside a git repository")
	}
	out, err := exec.Command("git", "init", "-q", dir).CombinedOutput()
	if err != nil {
		tb.Fatalf("git init %s: %v\n%s", dir, err, out)
	}
}

// Reference is elastic-package, with its own data folder for one test.
type Reference struct {
	// Env adds variables to every run (for example
	// ELASTIC_PACKAGE_VERIFIER_DISABLE=true for a registry without
	// signatures).
	Env []string
	// Args are further flags of `elastic-package build` (--skip-validation).
	Args   []string
	script string
	home   string
	ecsURL string
}

// NewReference prepares elastic-package with a fresh data folder whose ECS
// downloads go to ecsURL, or skips tb when it is absent.
func NewReference(tb testing.TB, ecsURL string) *Reference {
	tb.Helper()
	script := filepath.Join(sharedtest.Dir(tb), "reference", "elastic-package", "elastic-package")
	if _, err := os.Stat(script); err != nil {
		tb.Skipf("reference elastic-package not found: %v", err)
	}
	// elastic-package sets up its data folder only when it does not exist.
	return &Reference{script: script, home: filepath.Join(tb.TempDir(), "home"), ecsURL: ecsURL}
}

// SetRegistry points elastic-package's package_registry.base_url (where
// the input packages of requires.input come from) at url.
func (r *Reference) SetRegistry(url string) error {
	cfg := filepath.Join(r.home, "config.yml")
	if _, err := os.Stat(cfg); err != nil {
		// The launcher writes the default configuration on first use.
		cmd := exec.Command(r.script, "version")
		cmd.Env = append(os.Environ(), "ELASTIC_PACKAGE_DATA_HOME="+r.home)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("elastic-package version: %v\n%s", err, out)
		}
	}
	b, err := os.ReadFile(cfg)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%s: %w", cfg, err)
	}
	reg, _ := doc["package_registry"].(map[string]any)
	if reg == nil {
		reg = map[string]any{}
		doc["package_registry"] = reg
	}
	reg["base_url"] = url
	out, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(cfg, out, 0o644)
}

// Build runs `elastic-package build --zip` in pkgDir (which must lie in a
// git repository) and returns the unpacked built package
// (REPO/build/packages/NAME/VERSION) and how long the command took. A
// refusal is an error holding elastic-package's output.
func (r *Reference) Build(pkgDir, repoRoot, name, version string) (string, time.Duration, error) {
	cmd := r.command(pkgDir, append([]string{"build", "--zip"}, r.Args...)...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		return "", d, fmt.Errorf("elastic-package build: %v\n%s", err, out)
	}
	built := filepath.Join(repoRoot, "build", "packages", name, version)
	if _, err := os.Stat(built); err != nil {
		return "", d, fmt.Errorf("elastic-package build: %v\n%s", err, out)
	}
	return built, d, nil
}

// Run runs elastic-package ARGS in dir (with the data folder, ECS base
// and Env of Build) and returns its combined output.
func (r *Reference) Run(dir string, args ...string) ([]byte, error) {
	return r.command(dir, args...).CombinedOutput()
}

func (r *Reference) command(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(r.script, args...)
	cmd.Dir = dir
	// Variables of the caller's environment that would change
	// elastic-package's output (ELASTIC_PACKAGE_*) are not passed on.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ELASTIC_PACKAGE_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env,
		"ELASTIC_PACKAGE_DATA_HOME="+r.home,
		"ELASTIC_PACKAGE_ECS_BASE_URL="+r.ecsURL,
	)
	cmd.Env = append(cmd.Env, r.Env...)
	return cmd
}

// Unzip extracts zipPath into dst and returns dst/ROOT, ROOT being the
// zip's single root folder.
func Unzip(zipPath, dst string) (string, error) {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return "", err
	}
	defer zr.Close()
	roots := map[string]bool{}
	for _, f := range zr.File {
		clean := path.Clean(f.Name)
		if strings.HasPrefix(clean, "../") || path.IsAbs(clean) {
			return "", fmt.Errorf("unsafe entry %q", f.Name)
		}
		roots[strings.SplitN(clean, "/", 2)[0]] = true
		p := filepath.Join(dst, filepath.FromSlash(clean))
		if strings.HasSuffix(f.Name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return "", err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		rc, err := f.Open()
		if err != nil {
			return "", err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return "", fmt.Errorf("%s: %w", f.Name, err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return "", err
		}
	}
	if len(roots) != 1 {
		return "", fmt.Errorf("zip has %d root folders", len(roots))
	}
	for r := range roots {
		return filepath.Join(dst, r), nil
	}
	return "", errors.New("unreachable")
}

// Diff is one file that differs between two built trees.
type Diff struct {
	Path   string // slash-separated, relative to the package root
	Kind   string // "missing" (only in want), "extra" (only in got), "content"
	Detail string // for content: where and how it differs
}

func (d Diff) String() string {
	if d.Detail == "" {
		return d.Kind + " " + d.Path
	}
	return d.Kind + " " + d.Path + ": " + d.Detail
}

// Compare compares the files below want and got: *.yml, *.yaml and *.json
// as data (decoded; key order, layout and number spelling do not matter),
// everything else byte for byte. It returns the differences in path
// order and how many files want holds.
func Compare(want, got string) (diffs []Diff, files int, err error) {
	wf, err := listFiles(want)
	if err != nil {
		return nil, 0, err
	}
	gf, err := listFiles(got)
	if err != nil {
		return nil, 0, err
	}
	for _, p := range unionKeys(wf, gf) {
		switch {
		case !gf[p]:
			diffs = append(diffs, Diff{Path: p, Kind: "missing"})
		case !wf[p]:
			diffs = append(diffs, Diff{Path: p, Kind: "extra"})
		default:
			a, err := os.ReadFile(filepath.Join(want, filepath.FromSlash(p)))
			if err != nil {
				return nil, 0, err
			}
			b, err := os.ReadFile(filepath.Join(got, filepath.FromSlash(p)))
			if err != nil {
				return nil, 0, err
			}
			if d := compareContent(p, a, b); d != "" {
				diffs = append(diffs, Diff{Path: p, Kind: "content", Detail: d})
			}
		}
	}
	return diffs, len(wf), nil
}

func listFiles(root string) (map[string]bool, error) {
	out := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = true
		return nil
	})
	return out, err
}

// compareContent returns "" when a and b are equal for the file p.
func compareContent(p string, a, b []byte) string {
	if bytes.Equal(a, b) {
		return ""
	}
	var da, db any
	switch strings.ToLower(path.Ext(p)) {
	case ".yml", ".yaml":
		ea, eb := yamlDecode(a, &da), yamlDecode(b, &db)
		if ea != nil || eb != nil {
			return fmt.Sprintf("not comparable as YAML (want: %v, got: %v)", ea, eb)
		}
	case ".json":
		ea, eb := jsonDecode(a, &da), jsonDecode(b, &db)
		if ea != nil || eb != nil {
			return fmt.Sprintf("not comparable as JSON (want: %v, got: %v)", ea, eb)
		}
	default:
		return fmt.Sprintf("bytes differ (%d vs %d bytes; first difference at byte %d)", len(a), len(b), firstDiff(a, b))
	}
	if where := dataDiff("", da, db); where != "" {
		return where
	}
	return ""
}

func yamlDecode(b []byte, v *any) error {
	return decodeAll(yaml.NewDecoder(bytes.NewReader(b)), v)
}

// decodeAll decodes every document of a stream into v (one document
// unwrapped), numbers normalized.
func decodeAll(dec interface{ Decode(any) error }, v *any) error {
	var docs []any
	for {
		var d any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		docs = append(docs, d)
	}
	*v = normalize(single(docs))
	return nil
}

// single unwraps a stream of one document.
func single(docs []any) any {
	if len(docs) == 1 {
		return docs[0]
	}
	return docs
}

func jsonDecode(b []byte, v *any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return decodeAll(dec, v)
}

// normalize gives numbers one representation (YAML ints and floats, JSON
// numbers) so that 1 and 1.0 compare equal, as they do as data.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	case json.Number:
		if i, err := strconv.ParseInt(x.String(), 10, 64); err == nil {
			return numberString(strconv.FormatInt(i, 10))
		}
		if f, err := strconv.ParseFloat(x.String(), 64); err == nil {
			return numberString(fmt.Sprint(f))
		}
		return numberString(x.String())
	case int:
		return numberString(fmt.Sprint(x))
	case int64:
		return numberString(fmt.Sprint(x))
	case uint64:
		return numberString(fmt.Sprint(x))
	case float64:
		return numberString(fmt.Sprint(x))
	}
	return v
}

type numberString string

// dataDiff returns the first path where a and b differ, with both values,
// or "".
func dataDiff(at string, a, b any) string {
	show := func(v any) string {
		s := fmt.Sprintf("%v", v)
		if len(s) > 120 {
			s = s[:120] + "…"
		}
		return s
	}
	if at == "" {
		at = "$"
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: want a mapping, got %T", at, b)
		}
		for _, k := range unionKeys(x, y) {
			av, aok := x[k]
			bv, bok := y[k]
			switch {
			case !bok:
				return fmt.Sprintf("%s.%s: missing (want %s)", at, k, show(av))
			case !aok:
				return fmt.Sprintf("%s.%s: extra (got %s)", at, k, show(bv))
			}
			if d := dataDiff(at+"."+k, av, bv); d != "" {
				return d
			}
		}
		return ""
	case []any:
		y, ok := b.([]any)
		if !ok {
			return fmt.Sprintf("%s: want a list, got %T", at, b)
		}
		for i := 0; i < len(x) && i < len(y); i++ {
			if d := dataDiff(fmt.Sprintf("%s[%d]", at, i), x[i], y[i]); d != "" {
				return d
			}
		}
		if len(x) != len(y) {
			return fmt.Sprintf("%s: want %d items, got %d", at, len(x), len(y))
		}
		return ""
	}
	if !reflect.DeepEqual(a, b) {
		return fmt.Sprintf("%s: want %s, got %s", at, show(a), show(b))
	}
	return ""
}

// unionKeys returns the keys of a and b, each once, sorted.
func unionKeys[V any](a, b map[string]V) []string {
	keys := slices.AppendSeq(slices.Collect(maps.Keys(a)), maps.Keys(b))
	slices.Sort(keys)
	return slices.Compact(keys)
}

func firstDiff(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
