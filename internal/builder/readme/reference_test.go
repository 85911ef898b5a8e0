package readme

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"pkgstore/internal/testkit/elasticpackagetest"
	"pkgstore/internal/testkit/sharedtest"
	"pkgstore/internal/testkit/treetest"
)

// corpus is a folder of source packages inside a git repository with the
// links table at its root, as both tools need.
type corpus struct {
	repo string   // repository root
	pkgs []string // package folders with README templates, relative to repo
}

// newCorpus unpacks archive, or writes the probe packages when archive is
// "", into a new repository.
func newCorpus(t *testing.T, archive string) corpus {
	t.Helper()
	var repo string
	if archive == "" {
		repo = t.TempDir()
		treetest.Write(t, repo, probePackages())
		elasticpackagetest.Repo(t, repo)
		// Without the alerting rule and SLO template keys: their sections
		// fall back to Elastic's documentation home.
		treetest.Write(t, repo, map[string]string{LinksFileName: "links:\n  elastic-main: https://www.elastic.co/guide\n"})
	} else {
		repo = elasticpackagetest.Corpus(t, archive)
	}
	c := corpus{repo: repo}
	err := filepath.WalkDir(repo, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() || !strings.HasSuffix(filepath.ToSlash(p), "/"+TemplatesDir) {
			return nil
		}
		pkg := filepath.Dir(filepath.Dir(filepath.Dir(p)))
		if _, err := os.Stat(filepath.Join(pkg, "manifest.yml")); err != nil {
			return nil
		}
		rel, _ := filepath.Rel(repo, pkg)
		c.pkgs = append(c.pkgs, rel)
		return filepath.SkipDir
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(c.pkgs)
	return c
}

// referenceReadmes builds pkgDir with the reference (validation skipped,
// so that every package gets as far as its READMEs) and returns the
// READMEs of the built package, docs/NAME for each template, or the
// reference's refusal.
func referenceReadmes(t *testing.T, ref *elasticpackagetest.Reference, repo, pkgDir string, names []string) (map[string][]byte, error) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(pkgDir, "manifest.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct{ Name, Version string }
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	built, _, err := ref.Build(pkgDir, repo, m.Name, m.Version)
	if err != nil {
		return nil, err
	}
	got := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(built, DocsDir, n))
		if err != nil {
			t.Fatalf("%s: reference built no docs/%s: %v", pkgDir, n, err)
		}
		got[n] = b
	}
	return got, nil
}

// lintReadmes asks the reference's lint, which renders every template and
// compares it with docs/, about our rendering: with ours written into
// pkgDir/docs/ (when ours rendered), "same" when it finds them current,
// "both refuse" when it cannot render a template we cannot render either,
// "" when its lint does not get to READMEs, else what differs.
func lintReadmes(t *testing.T, ref *elasticpackagetest.Reference, pkgDir string, ours []Rendered, ourErr error) string {
	t.Helper()
	if ourErr == nil {
		for _, r := range ours {
			if err := Write(filepath.Join(pkgDir, DocsDir), r); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, _ := ref.Run(pkgDir, "lint")
	text := string(out)
	refuses := strings.Contains(text, "is up-to-date failed")
	outdated := strings.Contains(text, "is outdated.")
	switch {
	case !strings.Contains(text, "Lint the package"):
		return ""
	case ourErr != nil && refuses:
		return "both refuse"
	case ourErr != nil:
		return "the reference renders the templates, ours fails: " + ourErr.Error()
	case refuses:
		return "the reference refuses a template, ours renders it: " + text
	case outdated:
		return "the reference's lint finds our READMEs differ from its rendering: " + text
	}
	return "same"
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestReadmesMatchReference renders the README templates of every package
// of elastic-package's test packages and of the spec fixtures, and builds
// the same packages with the reference elastic-package: every README the
// reference renders must be byte for byte ours, and a template the
// reference refuses ours must refuse. Packages the reference cannot build
// for reasons other than their README are reported, not compared.
func TestReadmesMatchReference(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the reference elastic-package")
	}
	ecsURL, _ := elasticpackagetest.ServeECS(t)
	ref := elasticpackagetest.NewReference(t, ecsURL)
	ref.Args = []string{"--skip-validation"}
	ext := testExternalFields(t, ecsURL)

	for _, cs := range []struct{ name, archive string }{
		{"elastic-package", sharedtest.ElasticPackagePackages},
		{"spec-fixtures", sharedtest.SpecFixtures},
		{"probes", ""},
	} {
		t.Run(cs.name, func(t *testing.T) {
			c := newCorpus(t, cs.archive)
			if len(c.pkgs) == 0 {
				t.Fatalf("no package with README templates in %s", cs.archive)
			}
			same, compared, files := 0, 0, 0
			var skipped []string
			for _, rel := range c.pkgs {
				pkgDir := filepath.Join(c.repo, rel)
				names, err := Templates(pkgDir)
				if err != nil {
					t.Fatal(err)
				}
				ours, ourErr := RenderAll(context.Background(), pkgDir, Options{Fields: ext, RepoRoot: c.repo})
				want, err := referenceReadmes(t, ref, c.repo, pkgDir, names)
				refErr := ""
				if err != nil {
					refErr = lastLine(err.Error())
				}
				refusedReadme := strings.Contains(refErr, "updating readme files failed")
				switch {
				case refErr != "" && !refusedReadme:
					// The reference's build stops before its READMEs: its
					// lint tells whether ours are what it renders.
					switch v := lintReadmes(t, ref, pkgDir, ours, ourErr); v {
					case "same":
						compared++
						same++
						files += len(ours)
						t.Logf("%s: reference build fails (%s); its lint finds our READMEs current", rel, refErr)
					case "both refuse":
						compared++
						same++
						t.Logf("%s: reference build fails (%s); its lint refuses the template as we do (%v)", rel, refErr, ourErr)
					case "":
						skipped = append(skipped, rel+": reference build fails before READMEs: "+refErr)
					default:
						compared++
						t.Errorf("%s: %s", rel, v)
					}
					continue
				case refusedReadme && ourErr != nil:
					t.Logf("%s: both refuse the template (reference: %s; ours: %v)", rel, refErr, ourErr)
					compared++
					same++
					continue
				case refusedReadme:
					t.Errorf("%s: the reference refuses the template (%s), ours renders it", rel, refErr)
					compared++
					continue
				case ourErr != nil:
					t.Errorf("%s: the reference renders, ours fails: %v", rel, ourErr)
					compared++
					continue
				}
				compared++
				ok := true
				for _, r := range ours {
					files++
					if !bytes.Equal(r.Content, want[r.Name]) {
						ok = false
						// README_DIFF_DUMP=DIR keeps both files for a closer look.
						if d := os.Getenv("README_DIFF_DUMP"); d != "" {
							os.MkdirAll(filepath.Join(d, rel), 0o755)
							os.WriteFile(filepath.Join(d, rel, "want-"+r.Name), want[r.Name], 0o644)
							os.WriteFile(filepath.Join(d, rel, "got-"+r.Name), r.Content, 0o644)
						}
						t.Errorf("%s: docs/%s differs from the reference's:\n%s", rel, r.Name, diffLines(want[r.Name], r.Content))
					}
				}
				if ok {
					same++
				}
			}
			for _, s := range skipped {
				t.Logf("not compared: %s", s)
			}
			if compared == 0 {
				t.Errorf("%s: no package could be compared", cs.name)
			}
			t.Logf("%s: READMEs identical for %d of %d packages compared (%d README files); %d packages not compared", cs.name, same, compared, files, len(skipped))
		})
	}
}

// diffLines shows the first lines where want and got differ.
func diffLines(want, got []byte) string {
	wl := strings.Split(string(want), "\n")
	gl := strings.Split(string(got), "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			b.WriteString("line " + itoa(i+1) + ":\n  want " + quote(w) + "\n  got  " + quote(g) + "\n")
			if shown++; shown == 5 {
				break
			}
		}
	}
	return b.String()
}
