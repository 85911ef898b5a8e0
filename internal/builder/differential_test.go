package builder

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"pkgstore/internal/api"
	"sort"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/builder/ecs"
	"pkgstore/internal/client"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/testkit/elasticpackagetest"
	"pkgstore/internal/testkit/eprtest"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sharedtest"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/treetest"
)

// corpus is a shared archive of source packages and how to find them in it.
type corpus struct {
	name    string
	archive string
	list    func(t *testing.T, root string) []string // package folders, relative
}

var corpora = []corpus{
	{"elastic-package", sharedtest.ElasticPackagePackages, topLevelPackages},
	{"spec-fixtures", sharedtest.SpecFixtures, fixturesWithDevBuild},
}

// topLevelPackages lists the folders of root holding manifest.yml.
func topLevelPackages(t *testing.T, root string) []string {
	des, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if _, err := os.Stat(filepath.Join(root, de.Name(), "manifest.yml")); de.IsDir() && err == nil {
			out = append(out, de.Name())
		}
	}
	return out
}

// fixturesWithDevBuild lists valid/NAME and invalid/NAME that have
// _dev/build.
func fixturesWithDevBuild(t *testing.T, root string) []string {
	var out []string
	for _, group := range []string{"valid", "invalid"} {
		des, err := os.ReadDir(filepath.Join(root, group))
		if err != nil {
			t.Fatal(err)
		}
		for _, de := range des {
			if fi, err := os.Stat(filepath.Join(root, group, de.Name(), "_dev", "build")); err == nil && fi.IsDir() {
				out = append(out, group+"/"+de.Name())
			}
		}
	}
	return out
}

// knownGaps are packages whose difference has a known cause outside this
// package's steps; the test fails when one of them stops differing, so
// that the list stays true.
var knownGaps = map[string]string{}

// verdict of one package.
type verdict struct {
	pkg       string
	outcome   string // identical, differs, both refuse, only elastic-package refuses, only pkgstore refuses
	diffs     []elasticpackagetest.Diff
	files     int
	ref, ours time.Duration
	refErr    error
	ourErr    error
}

func (v verdict) ok() bool { return v.outcome == "identical" || v.outcome == "both refuse" }

// TestDifferential builds every package of both corpora with
// elastic-package and with Package, and compares the built trees file by
// file. Run with -v for the per-package verdicts and timings.
func TestDifferential(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every corpus package twice")
	}
	ecsURL, _ := elasticpackagetest.ServeECS(t)
	for _, c := range corpora {
		t.Run(c.name, func(t *testing.T) {
			root := elasticpackagetest.Corpus(t, c.archive)
			ref := elasticpackagetest.NewReference(t, ecsURL)
			resolver := &ecs.Resolver{BaseURL: ecsURL, CacheDir: t.TempDir(), Attempts: 1}
			var verdicts []verdict
			pub := &publisher{}
			for _, rel := range c.list(t, root) {
				v := compareOne(t, ref, resolver, root, rel, pub)
				if gap, known := knownGaps[c.name+"/"+rel]; known {
					if v.ok() {
						t.Errorf("%s: %s, but it is listed as a known gap (%s): remove it from knownGaps", rel, v.outcome, gap)
					}
					v.outcome = "known gap: " + gap
				}
				verdicts = append(verdicts, v)
				if !v.ok() && !strings.HasPrefix(v.outcome, "known gap") {
					var b strings.Builder
					fmt.Fprintf(&b, "%s: %s", rel, v.outcome)
					for _, d := range v.diffs {
						fmt.Fprintf(&b, "\n    %s", d)
					}
					if v.refErr != nil {
						fmt.Fprintf(&b, "\n    elastic-package: %s", firstLines(v.refErr.Error(), 6))
					}
					if v.ourErr != nil {
						fmt.Fprintf(&b, "\n    pkgstore: %s", firstLines(v.ourErr.Error(), 6))
					}
					t.Error(b.String())
				}
			}
			report(t, c.name, verdicts)
		})
	}
}

// publisher publishes built zips through the publishing job of real
// stores (spec validation on), a new store when a NAME-VERSION repeats.
type publisher struct {
	stores []*servertest.Store
	seen   []map[packageid.ID]bool
}

func (p *publisher) publish(t *testing.T, zipPath string, id packageid.ID) *api.Submission {
	t.Helper()
	i := 0
	for ; i < len(p.stores) && p.seen[i][id]; i++ {
	}
	if i == len(p.stores) {
		p.stores = append(p.stores, servertest.Start(t, servertest.Options{Memory: true}))
		p.seen = append(p.seen, map[packageid.ID]bool{})
	}
	p.seen[i][id] = true
	b, err := os.ReadFile(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	return p.stores[i].Publish(t, id.ZipName(), b, client.Options{})
}

func compareOne(t *testing.T, ref *elasticpackagetest.Reference, resolver *ecs.Resolver, root, rel string, pub *publisher) verdict {
	t.Helper()
	v := verdict{pkg: rel}
	dir := filepath.Join(root, filepath.FromSlash(rel))
	id, err := ReadManifestID(dir)
	if err != nil {
		v.ourErr = err
	}
	var want string
	if err == nil {
		want, v.ref, v.refErr = ref.Build(dir, root, id.Name, id.Version)
	} else {
		v.refErr = errors.New("no readable manifest")
	}
	out := t.TempDir()
	start := time.Now()
	res, err := Package(context.Background(), dir, out, Config{ECS: resolver, Registry: "http://127.0.0.1:1"})
	v.ours = time.Since(start)
	v.ourErr = err
	if err == nil {
		// What pkgstore build writes, the publishing job accepts.
		if sub := pub.publish(t, res.Path, res.ID); sub.Status != api.StatusPublished {
			t.Errorf("%s: the publishing job did not publish the built zip: %s %+v", rel, sub.Status, sub.Reasons)
		}
	}
	switch {
	case v.refErr != nil && v.ourErr != nil:
		v.outcome = "both refuse"
	case v.refErr != nil:
		v.outcome = "only elastic-package refuses"
	case v.ourErr != nil:
		v.outcome = "only pkgstore refuses"
	default:
		got, err := elasticpackagetest.Unzip(res.Path, t.TempDir())
		if err != nil {
			t.Fatalf("%s: unzip ours: %v", rel, err)
		}
		v.diffs, v.files, err = elasticpackagetest.Compare(want, got)
		if err != nil {
			t.Fatalf("%s: compare: %v", rel, err)
		}
		v.outcome = "identical"
		if len(v.diffs) > 0 {
			v.outcome = "differs"
		}
	}
	return v
}

func report(t *testing.T, name string, vs []verdict) {
	sort.Slice(vs, func(i, j int) bool { return vs[i].pkg < vs[j].pkg })
	var identical, built, refusedBoth int
	var refTotal, ourTotal time.Duration
	var b strings.Builder
	for _, v := range vs {
		switch v.outcome {
		case "identical":
			identical++
		case "both refuse":
			refusedBoth++
		}
		if v.refErr == nil {
			built++
		}
		if v.refErr == nil && v.ourErr == nil {
			refTotal += v.ref
			ourTotal += v.ours
		}
		fmt.Fprintf(&b, "\n  %-55s %-40s files %3d  elastic-package %6.0fms  pkgstore %6.0fms", v.pkg, v.outcome, v.files,
			float64(v.ref.Microseconds())/1000, float64(v.ours.Microseconds())/1000)
		if v.outcome == "both refuse" {
			fmt.Fprintf(&b, "\n      elastic-package: %s\n      pkgstore: %s", lastLine(v.refErr), lastLine(v.ourErr))
		}
	}
	ratio := 0.0
	if refTotal > 0 {
		ratio = float64(ourTotal) / float64(refTotal)
	}
	t.Logf("corpus %s: %d of %d packages that elastic-package builds are identical; %d refused by both; build time pkgstore/elastic-package = %.3f (%v / %v)%s",
		name, identical, built, refusedBoth, ratio, ourTotal.Round(time.Millisecond), refTotal.Round(time.Millisecond), b.String())
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, "\n      ")
}

// lastLine is the most specific line of an error: elastic-package prints
// its reason last, ours comes first.
func lastLine(err error) string {
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	s := lines[len(lines)-1]
	if len(lines) > 1 && strings.HasPrefix(err.Error(), "build ") {
		s = strings.Join(lines[:min(3, len(lines))], " | ")
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// copyTree copies the folder src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDifferentialComposable builds the spec fixture good_requires, whose
// requires.input names sql_input 1.0.0 and log_input 2.0.0, with both tools
// against the reference EPR serving those input packages on loopback.
func TestDifferentialComposable(t *testing.T) {
	if testing.Short() {
		t.Skip("runs elastic-package and the reference EPR")
	}
	root := elasticpackagetest.Corpus(t, sharedtest.SpecFixtures)
	// The input packages: good_input renamed, without its _dev (its ECS
	// reference does not exist).
	inputs := t.TempDir()
	zips := t.TempDir()
	for _, in := range []struct{ name, version, input string }{
		{"sql_input", "1.0.0", "sql"},
		{"log_input", "2.0.0", "logfile"},
	} {
		dir := filepath.Join(inputs, in.name)
		copyTree(t, filepath.Join(root, "valid", "good_input"), dir)
		if err := os.RemoveAll(filepath.Join(dir, "_dev")); err != nil {
			t.Fatal(err)
		}
		m, err := os.ReadFile(filepath.Join(dir, "manifest.yml"))
		if err != nil {
			t.Fatal(err)
		}
		s := strings.Replace(string(m), "name: good_input", "name: "+in.name, 1)
		s = strings.Replace(s, "version: 1.0.0", "version: "+in.version, 1)
		s = strings.Replace(s, "input: sql\n", "input: "+in.input+"\n", 1)
		if err := os.WriteFile(filepath.Join(dir, "manifest.yml"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		entry := "- version: " + in.version + "\n  changes:\n    - description: Renamed for the test.\n      type: enhancement\n      link: https://github.com/elastic/package-spec/pull/1\n"
		if err := os.WriteFile(filepath.Join(dir, "changelog.yml"), []byte(entry), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Package(context.Background(), dir, zips, Config{RepoRoot: inputs}); err != nil {
			t.Fatalf("input package %s: %v", in.name, err)
		}
	}
	registry := eprtest.Start(t, eprtest.Options{PackagePaths: []string{zips}})
	ecsURL, _ := elasticpackagetest.ServeECS(t)
	ref := elasticpackagetest.NewReference(t, ecsURL)
	// The test registry serves unsigned input packages.
	ref.Env = []string{"ELASTIC_PACKAGE_VERIFIER_DISABLE=true"}
	// good_requires itself is refused by both tools' validation (a stream
	// variable without name or type); compare what the build makes of it.
	ref.Args = []string{"--skip-validation"}
	if err := ref.SetRegistry(registry.URL); err != nil {
		t.Fatal(err)
	}
	resolver := &ecs.Resolver{BaseURL: ecsURL, CacheDir: t.TempDir(), Attempts: 1}
	dir := filepath.Join(root, "valid", "good_requires")
	id, err := ReadManifestID(dir)
	if err != nil {
		t.Fatal(err)
	}
	want, refDur, err := ref.Build(dir, root, id.Name, id.Version)
	if err != nil {
		t.Fatalf("elastic-package: %v", err)
	}
	start := time.Now()
	res, err := Package(context.Background(), dir, t.TempDir(), Config{ECS: resolver, Registry: registry.URL, SkipValidation: true})
	if err != nil {
		t.Fatalf("pkgstore: %v", err)
	}
	ourDur := time.Since(start)
	compareWithReference(t, "good_requires", want, res.Path, refDur, ourDur)
	if _, err := Package(context.Background(), dir, t.TempDir(), Config{ECS: resolver, Registry: registry.URL}); err == nil || !strings.Contains(err.Error(), "streams.0.vars.7") {
		t.Errorf("validation of the built good_requires: %v, want the refusal elastic-package makes", err)
	}
}

// compareWithReference unzips our build at zipPath and reports, as name,
// every file that differs from want (elastic-package's build of it).
func compareWithReference(t *testing.T, name, want, zipPath string, refDur, ourDur time.Duration) {
	t.Helper()
	got, err := elasticpackagetest.Unzip(zipPath, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	diffs, files, err := elasticpackagetest.Compare(want, got)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Errorf("%s: %s", name, d)
	}
	t.Logf("%s: %d files, %d differ; elastic-package %v, pkgstore %v", name, files, len(diffs), refDur.Round(time.Millisecond), ourDur.Round(time.Millisecond))
}

const baseFields = `- name: data_stream.type
  type: constant_keyword
  description: Data stream type.
- name: data_stream.dataset
  type: constant_keyword
  description: Data stream dataset.
- name: data_stream.namespace
  type: constant_keyword
  description: Data stream namespace.
- name: '@timestamp'
  type: date
  description: Event timestamp.
`

func changelog(version string) string {
	return "- version: \"" + version + "\"\n  changes:\n    - description: Initial release\n      type: enhancement\n      link: https://github.com/elastic/package-spec/pull/1\n"
}

// composedFixture is a valid composable integration that exercises every
// rule of bundling: two required input packages of the same input type,
// promoted variables, data stream overrides and novel variables,
// data_stream.dataset, a stream template of its own, fields overlap, title
// and description fallbacks. It returns the repository root, the package
// folder and the folder of input package zips.
func composedFixture(t *testing.T) (root, pkg, zips string) {
	t.Helper()
	inputs := t.TempDir()
	treetest.Write(t, inputs, map[string]string{
		"alpha_input/manifest.yml": `format_version: 3.6.0
name: alpha_input
title: Alpha logs
description: Collect alpha logs.
type: input
version: 1.0.0
conditions:
  kibana:
    version: "^8.15.0"
policy_templates:
  - name: alpha
    type: logs
    title: Alpha
    description: Alpha log files.
    input: logfile
    template_path: input.yml.hbs
    vars:
      - name: paths
        type: text
        title: Paths
        multi: true
        required: true
        show_user: true
        default:
          - /var/log/alpha/*.log
      - name: encoding
        type: text
        title: Encoding
        multi: false
        required: false
        show_user: false
      - name: timeout
        type: text
        title: Timeout
        multi: false
        required: false
        show_user: true
        default: 30s
      - name: data_stream.dataset
        type: text
        title: Dataset
        multi: false
        required: true
        show_user: true
        default: alpha.log
owner:
  github: elastic/x
  type: elastic
`,
		"alpha_input/changelog.yml":             changelog("1.0.0"),
		"alpha_input/docs/README.md":            "# Alpha\n",
		"alpha_input/agent/input/input.yml.hbs": "paths:\n{{#each paths}}\n  - {{this}}\n{{/each}}\n",
		"alpha_input/fields/base-fields.yml":    baseFields,
		"alpha_input/fields/input.yml":          "- name: message\n  type: match_only_text\n  description: Log message.\n- name: log.level\n  type: keyword\n  description: Log level.\n- name: '@timestamp'\n  type: date\n  description: Duplicate across files.\n",
		"beta_input/manifest.yml": `format_version: 3.6.0
name: beta_input
title: Beta logs
description: Collect beta logs.
type: input
version: 2.1.0
conditions:
  kibana:
    version: "^8.15.0"
policy_templates:
  - name: beta
    type: logs
    title: Beta
    description: Beta log files.
    input: logfile
    template_paths:
      - a.yml.hbs
      - b.yml.hbs
    vars:
      - name: host
        type: text
        title: Host
        multi: false
        required: true
        show_user: true
        default: localhost
owner:
  github: elastic/x
  type: elastic
`,
		"beta_input/changelog.yml":         changelog("2.1.0"),
		"beta_input/docs/README.md":        "# Beta\n",
		"beta_input/agent/input/a.yml.hbs": "host: {{host}}\n",
		"beta_input/agent/input/b.yml.hbs": "tags: [beta]\n",
	})
	zips = t.TempDir()
	for _, p := range []string{"alpha_input", "beta_input"} {
		if _, err := Package(context.Background(), filepath.Join(inputs, p), zips, Config{RepoRoot: inputs, SkipValidation: true}); err != nil {
			t.Fatalf("input package %s: %v", p, err)
		}
	}

	root = t.TempDir()
	elasticpackagetest.GitInit(t, root)
	pkg = filepath.Join(root, "composed")
	treetest.Write(t, pkg, map[string]string{
		"manifest.yml": `format_version: 3.6.0
name: composed
title: Composed
description: An integration built from input packages.
version: 1.0.0
type: integration
conditions:
  kibana:
    version: "^8.15.0"
requires:
  input:
    - package: alpha_input
      version: 1.0.0
    - package: beta_input
      version: 2.1.0
policy_templates:
  - name: logs
    title: Logs
    description: Collect logs.
    data_streams:
      - alpha_logs
      - beta_logs
    inputs:
      - package: alpha_input
        vars:
          - name: paths
            default:
              - /srv/alpha/*.log
          - name: encoding
            show_user: true
      - package: beta_input
        title: Beta from the integration
owner:
  github: elastic/x
  type: elastic
`,
		"changelog.yml":  changelog("1.0.0"),
		"docs/README.md": "# Composed\n",
		"data_stream/alpha_logs/manifest.yml": `title: Alpha logs
type: logs
streams:
  - package: alpha_input
    template_path: stream.yml.hbs
    title: Alpha stream
    description: Alpha stream of the integration.
    vars:
      - name: timeout
        default: 1m
      - name: custom_tag
        type: text
        title: Tag
        multi: false
        required: false
        show_user: true
`,
		"data_stream/alpha_logs/agent/stream/stream.yml.hbs": "tags: [{{custom_tag}}]\n",
		"data_stream/alpha_logs/fields/base-fields.yml":      baseFields + "- name: message\n  type: text\n  description: Ours wins.\n",
		"data_stream/beta_logs/manifest.yml":                 "title: Beta logs\ntype: logs\nstreams:\n  - package: beta_input\n",
		"data_stream/beta_logs/fields/base-fields.yml":       baseFields,
	})
	return root, pkg, zips
}

// TestDifferentialComposed builds composedFixture with both tools and
// publishes ours through the job.
func TestDifferentialComposed(t *testing.T) {
	if testing.Short() {
		t.Skip("runs elastic-package and the reference EPR")
	}
	root, pkg, zips := composedFixture(t)
	registry := eprtest.Start(t, eprtest.Options{PackagePaths: []string{zips}})
	ref := elasticpackagetest.NewReference(t, "http://127.0.0.1:1")
	ref.Env = []string{"ELASTIC_PACKAGE_VERIFIER_DISABLE=true"}
	if err := ref.SetRegistry(registry.URL); err != nil {
		t.Fatal(err)
	}
	want, refDur, refErr := ref.Build(pkg, root, "composed", "1.0.0")
	start := time.Now()
	res, err := Package(context.Background(), pkg, t.TempDir(), Config{Registry: registry.URL})
	ourDur := time.Since(start)
	if refErr != nil || err != nil {
		t.Fatalf("elastic-package: %v\npkgstore: %v", refErr, err)
	}
	compareWithReference(t, "composed", want, res.Path, refDur, ourDur)
	pub := &publisher{}
	if sub := pub.publish(t, res.Path, res.ID); sub.Status != api.StatusPublished {
		t.Errorf("the publishing job did not publish the built zip: %s %+v", sub.Status, sub.Reasons)
	}
}

// TestRequiredInputsFromStore downloads the input packages of a composable
// integration from our own store (signed by its publisher key) and checks
// the failures: an unknown version, a signature from an untrusted key, a
// registry that is down.
func TestRequiredInputsFromStore(t *testing.T) {
	_, pkg, zips := composedFixture(t)
	store := servertest.Start(t, servertest.Options{Memory: true})
	for _, rev := range []struct{ name, version string }{{"alpha_input", "1.0.0"}, {"beta_input", "2.1.0"}} {
		z := rev.name + "-" + rev.version + ".zip"
		b, err := os.ReadFile(filepath.Join(zips, z))
		if err != nil {
			t.Fatal(err)
		}
		if sub := store.Publish(t, z, b, client.Options{Legacy: true}); sub.Status != api.StatusPublished {
			t.Fatalf("%s: %s %+v", z, sub.Status, sub.Reasons)
		}
		// Published means the zip is written; the registry serves it once
		// the index holds it.
		store.WaitVisible(t, rev.name, rev.version)
	}
	other := sigtest.NewKey(t, "someone else")
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	cases := []struct {
		name     string
		registry string
		keyring  *signature.Keyring
		edit     func(m string) string
		files    map[string]string // written over the fixture
		wantErr  string
	}{
		{name: "signed by the trusted key", registry: store.URL, keyring: store.Key.Keyring},
		{name: "unverified", registry: store.URL},
		{name: "untrusted key", registry: store.URL, keyring: other.Keyring, wantErr: "signature of"},
		{name: "unknown version", registry: store.URL, wantErr: "beta_input-9.9.9 is not in the registry",
			edit: func(m string) string { return strings.Replace(m, "version: 2.1.0", "version: 9.9.9", 1) }},
		{name: "registry down", registry: down.URL, wantErr: "required input package alpha_input 1.0.0"},
		{name: "stream names a package requires.input lacks", registry: store.URL, wantErr: `"gamma_input"`,
			files: map[string]string{"data_stream/beta_logs/manifest.yml": "title: Beta logs\ntype: logs\nstreams:\n  - package: gamma_input\n"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "composed")
			copyTree(t, pkg, dir)
			if tc.edit != nil {
				mp := filepath.Join(dir, "manifest.yml")
				m, _ := os.ReadFile(mp)
				if err := os.WriteFile(mp, []byte(tc.edit(string(m))), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			treetest.Write(t, dir, tc.files)
			res, err := Package(context.Background(), dir, t.TempDir(), Config{Registry: tc.registry, InputKeyring: tc.keyring})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			files := readBuilt(t, res.Path)
			if files["data_stream/beta_logs/agent/stream/beta_input-b.yml.hbs"] != "tags: [beta]\n" {
				t.Errorf("bundled template: %q", files["data_stream/beta_logs/agent/stream/beta_input-b.yml.hbs"])
			}
		})
	}
}
