package readme

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"pkgstore/internal/shareddata"
	"pkgstore/internal/treetest"
)

// Archives of ../shared/testdata the differential test reads.
const (
	epPackagesArchive = "elastic-package-packages.tar.gz" // elastic-package's test/packages/other
	ecsSchemasArchive = "ecs-schemas.tar.gz"              // REF/generated/ecs/ecs_nested.yml
)

// referenceLinks is the links table both tools read in the differential
// test: the keys elastic-package's own test packages use.
const referenceLinks = "links:\n  elastic-main: https://www.elastic.co/guide\n"

// referenceTool returns the launcher of the reference elastic-package, or
// skips.
func referenceTool(t *testing.T) string {
	t.Helper()
	p := filepath.Join(shareddata.Dir(t), "reference", "elastic-package", "elastic-package")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("reference elastic-package not found: %v", err)
	}
	return p
}

// serveDir serves dir on a loopback port until the test ends.
func serveDir(t *testing.T, dir string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// corpus is a folder of source packages inside a git repository with the
// links table at its root, as both tools need.
type corpus struct {
	name string
	repo string   // repository root
	pkgs []string // package folders with README templates, relative to repo
}

// unpackCorpus unpacks archive, or writes the probe packages when archive
// is "", into a new repository.
func unpackCorpus(t *testing.T, name, archive string) corpus {
	t.Helper()
	var repo string
	if archive == "" {
		repo = t.TempDir()
		treetest.Write(t, repo, probePackages())
	} else {
		repo = shareddata.Unpack(t, archive)
	}
	if err := os.WriteFile(filepath.Join(repo, LinksFileName), []byte(referenceLinks), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("git", "init", "-q", repo).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v: %s", err, out)
	}
	c := corpus{name: name, repo: repo}
	err := filepath.WalkDir(repo, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() || d.Name() != "docs" || filepath.Base(filepath.Dir(p)) != "build" || filepath.Base(filepath.Dir(filepath.Dir(p))) != "_dev" {
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

// referenceReadmes builds pkgDir with the reference and returns the
// READMEs of the built package (docs/NAME for each template), or the
// reference's error output when its build fails.
func referenceReadmes(t *testing.T, tool, home, ecsURL, repo, pkgDir string, names []string) (map[string][]byte, string) {
	t.Helper()
	// A failed build leaves its partial output: start clean.
	if err := os.RemoveAll(filepath.Join(repo, "build")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tool, "build", "--skip-validation")
	cmd.Dir = pkgDir
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, LinksFileEnv+"=") && !strings.HasPrefix(kv, "ELASTIC_PACKAGE_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "ELASTIC_PACKAGE_DATA_HOME="+home, "ELASTIC_PACKAGE_ECS_BASE_URL="+ecsURL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, lastLine(string(out))
	}
	built, err := filepath.Glob(filepath.Join(repo, "build", "packages", "*", "*"))
	if err != nil || len(built) != 1 {
		t.Fatalf("%s: want one built package under build/packages, got %v (%v)", pkgDir, built, err)
	}
	got := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(built[0], DocsDir, n))
		if err != nil {
			t.Fatalf("%s: reference built no docs/%s: %v", pkgDir, n, err)
		}
		got[n] = b
	}
	return got, ""
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
	tool := referenceTool(t)
	ecsURL := serveDir(t, shareddata.Unpack(t, ecsSchemasArchive))
	// A folder that does not exist yet: elastic-package installs its data there.
	home := filepath.Join(t.TempDir(), "elastic-package-home")
	ext := testExternalFields(t, ecsURL)

	for _, cs := range []struct{ name, archive string }{
		{"elastic-package", epPackagesArchive},
		{"spec-fixtures", shareddata.SpecFixtures},
		{"probes", ""},
	} {
		t.Run(cs.name, func(t *testing.T) {
			c := unpackCorpus(t, cs.name, cs.archive)
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
				ours, ourErr := RenderAll(context.Background(), pkgDir, Options{Fields: ext})
				want, refErr := referenceReadmes(t, tool, home, ecsURL, c.repo, pkgDir, names)
				refusedReadme := strings.Contains(refErr, "updating readme files failed")
				switch {
				case refErr != "" && !refusedReadme:
					skipped = append(skipped, rel+": reference build fails before READMEs: "+refErr)
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
