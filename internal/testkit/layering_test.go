package testkit_test

import (
	"bufio"
	"bytes"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The module's layering, as internal/api/doc.go states it: ten wings under
// internal/, lowest first, each importing only wings before it; clients
// that never link the publishing job; gocloud.dev behind internal/storage;
// testkit for tests only. Each rule is a subtest named after it, so a
// failure says which rule broke and every offending import is listed.

const module = "pkgstore"

// maxWings bounds the folders directly under internal/.
const maxWings = 12

// clientPackages must not link the publishing job (pkgstore/internal/publish).
var clientPackages = []string{
	"pkgstore/internal/client",
	"pkgstore/internal/client/mirror",
	"pkgstore/internal/client/syncv1",
	"pkgstore/internal/registry/proxy",
}

// goFile is one .go file of the module and its imports.
type goFile struct {
	rel     string // slash-separated, from the module root
	test    bool   // a _test.go file
	imports []string
}

func TestLayering(t *testing.T) {
	root := moduleRoot(t)
	order := wingOrder(t, root)
	files := moduleFiles(t, root)

	t.Run("at_most_12_wings", func(t *testing.T) {
		dirs := internalDirs(t, root)
		if len(dirs) > maxWings {
			t.Errorf("%d folders directly under internal/, at most %d: %s", len(dirs), maxWings, strings.Join(dirs, ", "))
		}
	})

	t.Run("every_folder_is_a_listed_wing", func(t *testing.T) {
		for _, d := range internalDirs(t, root) {
			if !slices.Contains(order, d) {
				t.Errorf("internal/%s is not a wing of internal/api/doc.go's list %v", d, order)
			}
		}
	})

	t.Run("wings_have_doc_go", func(t *testing.T) {
		for _, d := range internalDirs(t, root) {
			if _, err := os.Stat(filepath.Join(root, "internal", d, "doc.go")); err != nil {
				t.Errorf("internal/%s has no doc.go: %v", d, err)
			}
		}
	})

	// Production code only: tests may import any wing.
	t.Run("wing_import_order", func(t *testing.T) {
		rank := map[string]int{}
		for i, w := range order {
			rank[w] = i
		}
		for _, f := range files {
			from, ok := wingOfFile(f.rel)
			if !ok || f.test {
				continue
			}
			for _, imp := range f.imports {
				to, ok := wingOfImport(imp)
				if !ok || to == from {
					continue
				}
				rf, okf := rank[from]
				rt, okt := rank[to]
				if !okf || !okt {
					t.Errorf("%s imports %s: wing %q or %q is not in internal/api/doc.go's list", f.rel, imp, from, to)
					continue
				}
				if rt > rf {
					t.Errorf("%s imports %s: wing %s (%d) may not import wing %s (%d), which comes after it", f.rel, imp, from, rf, to, rt)
				}
			}
		}
	})

	t.Run("clients_without_publishing_job", func(t *testing.T) {
		for _, p := range clientPackages {
			out := goList(t, root, "-deps", p)
			for _, dep := range strings.Fields(out) {
				if dep == module+"/internal/publish" {
					t.Errorf("%s links %s (go list -deps): a client speaks api's wire types", p, dep)
				}
			}
		}
	})

	// Test files included.
	t.Run("gocloud_only_in_storage", func(t *testing.T) {
		for _, f := range files {
			if strings.HasPrefix(f.rel, "internal/storage/") {
				continue
			}
			for _, imp := range f.imports {
				if imp == "gocloud.dev" || strings.HasPrefix(imp, "gocloud.dev/") {
					t.Errorf("%s imports %s: only internal/storage imports gocloud.dev", f.rel, imp)
				}
			}
		}
	})

	t.Run("testkit_only_in_tests", func(t *testing.T) {
		for _, f := range files {
			if f.test || strings.HasPrefix(f.rel, "internal/testkit/") {
				continue
			}
			for _, imp := range f.imports {
				if imp == module+"/internal/testkit" || strings.HasPrefix(imp, module+"/internal/testkit/") {
					t.Errorf("%s imports %s: testkit is for _test.go files only", f.rel, imp)
				}
			}
		}
	})
}

// moduleRoot is the folder of go.mod, two up from this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !bytes.HasPrefix(data, []byte("module "+module+"\n")) {
		t.Fatalf("%s is not the root of module %s: %v", root, module, err)
	}
	return root
}

// wingOrder reads the wings, lowest first, from internal/api/doc.go's
// list: the comment lines "//\tWING  description" after "Wings, lowest
// first".
func wingOrder(t *testing.T, root string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "internal", "api", "doc.go"))
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	in := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.Contains(line, "Wings, lowest first"):
			in = true
		case in && strings.HasPrefix(line, "//\t"):
			order = append(order, strings.Fields(strings.TrimPrefix(line, "//\t"))[0])
		case in && len(order) > 0:
			in = false
		}
	}
	if len(order) < 2 || order[0] != "api" {
		t.Fatalf("no wing list in internal/api/doc.go (found %v)", order)
	}
	return order
}

// internalDirs lists the folders directly under internal/.
func internalDirs(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "internal"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

// moduleFiles parses the imports of every .go file of the module,
// whatever its build constraints (go list would leave out files for other
// systems). testdata, hidden and _ folders and nested modules are skipped,
// as the go command skips them.
func moduleFiles(t *testing.T, root string) []goFile {
	t.Helper()
	var out []goFile
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root {
				if name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
					return filepath.SkipDir
				}
				if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		gf := goFile{rel: filepath.ToSlash(rel), test: strings.HasSuffix(p, "_test.go")}
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			gf.imports = append(gf.imports, path)
		}
		out = append(out, gf)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no .go files found")
	}
	return out
}

// wingOfFile is the wing of a file under internal/WING/.
func wingOfFile(rel string) (string, bool) {
	rest, ok := strings.CutPrefix(rel, "internal/")
	if !ok {
		return "", false
	}
	wing, _, ok := strings.Cut(rest, "/")
	return wing, ok
}

// wingOfImport is the wing of an import path pkgstore/internal/WING[/...].
func wingOfImport(imp string) (string, bool) {
	rest, ok := strings.CutPrefix(imp, module+"/internal/")
	if !ok {
		return "", false
	}
	wing, _, _ := strings.Cut(rest, "/")
	return wing, true
}

// goList runs go list in the module root.
func goList(t *testing.T, root string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}
