package main

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pkgstore/internal/builder/ecs"
	"pkgstore/internal/testkit/elasticpackagetest"
	"pkgstore/internal/testkit/sharedtest"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/treetest"
)

// TestBuildCommand builds real package-spec fixtures (one with *.link files
// pointing into _dev) through validation, with and without signing.
func TestBuildCommand(t *testing.T) {
	fixtures := elasticpackagetest.Corpus(t, sharedtest.SpecFixtures) // a checkout: links resolve inside it
	key := sigtest.NewKey(t, "owner")
	ecsURL, ecsDir := elasticpackagetest.ServeECS(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // the ECS cache

	tests := []struct {
		name     string
		pkg      string
		args     []string
		code     int
		zip      string
		signed   bool
		mentions string
	}{
		// with_links names ECS v1.9.2, which does not exist (elastic-package refuses it too).
		{"ECS reference that does not exist", "valid/with_links", []string{"--ecs-base-url", ecsURL}, 1, "", false, "ECS reference does not exist: v1.9.2"},
		{"valid, signed", "valid/good_v3", []string{"--sign-key", key.PrivatePath, "--ecs-base-url", ecsURL}, 0, "good_v3-1.1.0.zip", true, key.Fingerprint},
		{"ECS from a local folder", "valid/good_v3", []string{"--ecs-base-url", "file://" + filepath.ToSlash(ecsDir)}, 0, "good_v3-1.1.0.zip", false, "built"},
		{"ECS base that is not a URL", "valid/good_v3", []string{"--ecs-base-url", "ftp://x"}, 1, "", false, "scheme must be http, https or file"},
		{"invalid refused", "invalid/bad_additional_content", nil, 1, "", false, "validation problem"},
		{"invalid, validation skipped", "invalid/bad_additional_content", []string{"--skip-validation"}, 0, "bad_additional_content-0.0.1.zip", false, "built"},
		{"not a folder", "nope", nil, 2, "", false, "not a package folder"},
		{"passphrase without key", "valid/good_v3", []string{"--passphrase-file", "x"}, 2, "", false, "--sign-key"},
		{"key is not a private key", "valid/good_v3", []string{"--sign-key", key.PublicPath}, 1, "", false, "private key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := append([]string{"build", filepath.Join(fixtures, filepath.FromSlash(tc.pkg)), "-o", out}, tc.args...)
			stdout, stderr, code := runCLI(t, args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, stdout, stderr)
			}
			if !strings.Contains(stdout+stderr, tc.mentions) {
				t.Fatalf("output does not mention %q:\n%s%s", tc.mentions, stdout, stderr)
			}
			des, _ := os.ReadDir(out)
			if tc.zip == "" {
				if len(des) != 0 {
					t.Fatalf("failed build left %v", des)
				}
				return
			}
			zr, err := zip.OpenReader(filepath.Join(out, tc.zip))
			if err != nil {
				t.Fatal(err)
			}
			defer zr.Close()
			root := strings.TrimSuffix(tc.zip, ".zip") + "/"
			hasManifest := false
			for _, f := range zr.File {
				if !strings.HasPrefix(f.Name, root) {
					t.Errorf("entry %q outside %s", f.Name, root)
				}
				if strings.Contains(f.Name, "/_dev/") || strings.HasSuffix(f.Name, ".link") {
					t.Errorf("entry %q should not be in the zip", f.Name)
				}
				hasManifest = hasManifest || f.Name == root+"manifest.yml"
			}
			if !hasManifest {
				t.Errorf("no %smanifest.yml", root)
			}
			_, err = os.Stat(filepath.Join(out, tc.zip+".sig"))
			if tc.signed != (err == nil) {
				t.Fatalf("signature present = %v, want %v", err == nil, tc.signed)
			}
			if tc.signed {
				if _, stderr, code := runCLI(t, "verify", filepath.Join(out, tc.zip), "--keyring", key.PublicPath); code != 0 {
					t.Fatalf("verify: %s", stderr)
				}
			}
		})
	}
}

// TestBuildCommandResolvesLinks checks a linked file's content and that a
// changed link target fails the build (elastic-package's with_links, whose
// links point into _dev and into another package).
func TestBuildCommandResolvesLinks(t *testing.T) {
	corpus := elasticpackagetest.Corpus(t, sharedtest.ElasticPackagePackages)
	pkg := filepath.Join(corpus, "with_links")
	ecsURL, _ := elasticpackagetest.ServeECS(t)
	t.Setenv(ecs.BaseURLEnv, ecsURL) // through the environment this time
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	out := filepath.Join(t.TempDir(), "out")
	if _, stderr, code := runCLI(t, "build", pkg, "-o", out); code != 0 {
		t.Fatal(stderr)
	}
	zr, err := zip.OpenReader(filepath.Join(out, "with_links-0.0.1.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	target := filepath.Join(pkg, "_dev", "shared", "stream.yml.hbs")
	want, err := os.ReadFile(target)
	if err != nil {
		t.Fatal(err)
	}
	f, err := zr.Open("with_links-0.0.1/data_stream/first/agent/stream/stream.yml.hbs")
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := got.ReadFrom(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatal("linked file content differs from its target")
	}

	// Change the target: its checksum no longer matches the link.
	if err := os.WriteFile(target, append(want, '#'), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCLI(t, "build", pkg, "-o", filepath.Join(t.TempDir(), "out2"), "--skip-validation")
	if code != 1 || !strings.Contains(stderr, "checksum mismatch") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// readmePackage copies examples/hello (its README comes from a template
// using generatedHeader, fields, event and inputDocs) into a temporary
// folder, without its rendered docs/.
func readmePackage(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "hello")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "examples", "hello"))); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "docs")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBuildRendersReadme: build renders _dev/build/docs/README.md into
// docs/README.md, in the source folder and in the zip.
func TestBuildRendersReadme(t *testing.T) {
	dir := readmePackage(t)
	out := filepath.Join(t.TempDir(), "out")
	stdout, stderr, code := runCLI(t, "build", dir, "-o", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	rendered, err := os.ReadFile(filepath.Join(dir, "docs", "README.md"))
	if err != nil {
		t.Fatalf("no docs/README.md in the source: %v", err)
	}
	for _, want := range []string{"| hello.greeting | What was said. | keyword |", "An example event for `log` looks as following:", "<summary>filestream</summary>"} {
		if !strings.Contains(string(rendered), want) {
			t.Errorf("docs/README.md lacks %q:\n%s", want, rendered)
		}
	}
	zr, err := zip.OpenReader(filepath.Join(out, "hello-1.0.0.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	f, err := zr.Open("hello-1.0.0/docs/README.md")
	if err != nil {
		t.Fatalf("zip has no docs/README.md: %v", err)
	}
	defer f.Close()
	var inZip bytes.Buffer
	if _, err := inZip.ReadFrom(f); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(inZip.Bytes(), rendered) {
		t.Errorf("the zip's docs/README.md is not the rendered one")
	}

	// Now committed and current: the check passes.
	if stdout, stderr, code := runCLI(t, "build", dir, "--check-readme"); code != 0 || !strings.Contains(stdout, "up to date") {
		t.Fatalf("check of a current README: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestBuildCheckReadme: --check-readme names each outdated or missing
// README, exits 1 and writes nothing.
func TestBuildCheckReadme(t *testing.T) {
	tests := []struct {
		name     string
		edit     map[string]string // files written after a first build
		remove   string            // file removed after a first build
		code     int
		mentions []string
	}{
		{"current", nil, "", 0, []string{"up to date"}},
		{"no templates", nil, "_dev/build/docs/README.md", 0, []string{"no README templates"}},
		{"outdated", map[string]string{"docs/README.md": "<!-- NOTICE: Do not edit this file manually.-->\nhand edited\n"}, "", 1,
			[]string{"docs/README.md is outdated: line 2", `"hand edited\n"`, "1 README file(s) outdated"}},
		{"template changed", map[string]string{"_dev/build/docs/README.md": "# Hello v2\n"}, "", 1,
			[]string{"docs/README.md is outdated: line 1", `"# Hello v2\n"`}},
		{"second template, not rendered", map[string]string{"_dev/build/docs/extra.md": "extra\n"}, "", 1,
			[]string{"docs/extra.md is missing"}},
		{"both outdated", map[string]string{"_dev/build/docs/extra.md": "extra\n", "docs/README.md": "old\n"}, "", 1,
			[]string{"docs/README.md is outdated", "docs/extra.md is missing", "2 README file(s) outdated"}},
		{"missing", nil, "docs/README.md", 1, []string{"docs/README.md is missing"}},
		{"template error", map[string]string{"_dev/build/docs/README.md": "{{ fields \"log\" "}, "", 1, []string{"unclosed action"}},
		{"template function fails", map[string]string{"_dev/build/docs/README.md": "{{ url \"nope\" }}"}, "", 1, []string{"link key not found: nope"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := readmePackage(t)
			if _, stderr, code := runCLI(t, "build", dir, "-o", filepath.Join(t.TempDir(), "out")); code != 0 {
				t.Fatalf("first build: exit %d: %s", code, stderr)
			}
			treetest.Write(t, dir, tc.edit)
			if tc.remove != "" {
				if err := os.Remove(filepath.Join(dir, filepath.FromSlash(tc.remove))); err != nil {
					t.Fatal(err)
				}
			}
			before := snapshot(t, dir)
			stdout, stderr, code := runCLI(t, "build", dir, "--check-readme")
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, stdout, stderr)
			}
			for _, m := range tc.mentions {
				if !strings.Contains(stdout+stderr, m) {
					t.Errorf("output does not mention %q:\n%s%s", m, stdout, stderr)
				}
			}
			if after := snapshot(t, dir); after != before {
				t.Errorf("--check-readme changed the package folder:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// snapshot lists every file below dir with its content.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			b.WriteString(rel + "/\n")
			return nil
		}
		c, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		b.WriteString(rel + ": " + string(c) + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestExampleReadmeIsCurrent: the committed examples/hello/docs/README.md
// is what its template renders.
func TestExampleReadmeIsCurrent(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "hello")
	if stdout, stderr, code := runCLI(t, "build", dir, "--check-readme"); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestBuildRefusesBrokenTemplate: a template that does not render stops
// the build before anything is written.
func TestBuildRefusesBrokenTemplate(t *testing.T) {
	dir := readmePackage(t)
	treetest.Write(t, dir, map[string]string{
		"_dev/build/docs/README.md": "fine\n",
		"_dev/build/docs/zz.md":     "{{ event \"no_such_stream\" }}",
	})
	out := filepath.Join(t.TempDir(), "out")
	stdout, stderr, code := runCLI(t, "build", dir, "-o", out)
	if code != 1 || !strings.Contains(stderr, "zz.md") || !strings.Contains(stderr, "no sample event") {
		t.Fatalf("exit %d, want 1 naming zz.md and the missing event\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "docs")); !os.IsNotExist(err) {
		t.Errorf("docs/ was written although a template failed: %v", err)
	}
	if des, _ := os.ReadDir(out); len(des) != 0 {
		t.Errorf("a zip was written: %v", des)
	}
}

// TestBuildCheckReadmeCorpus checks the committed READMEs of
// elastic-package's own test packages, which elastic-package rendered (ECS
// fields served on loopback): every one is current; after a field's
// description changes, the README is outdated.
func TestBuildCheckReadmeCorpus(t *testing.T) {
	ecsURL, _ := elasticpackagetest.ServeECS(t)
	root := elasticpackagetest.Corpus(t, sharedtest.ElasticPackagePackages)
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // the ECS cache
	templates, err := filepath.Glob(filepath.Join(root, "*", "_dev", "build", "docs", "README.md"))
	if err != nil || len(templates) == 0 {
		t.Fatalf("no README templates in the corpus: %v", err)
	}
	for _, tmpl := range templates {
		dir := filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(tmpl))))
		t.Run(filepath.Base(dir), func(t *testing.T) {
			before := snapshot(t, dir)
			stdout, stderr, code := runCLI(t, "build", dir, "--check-readme", "--ecs-base-url", ecsURL)
			if code != 0 || !strings.Contains(stdout, "up to date") {
				t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
			}
			if snapshot(t, dir) != before {
				t.Error("--check-readme changed the package folder")
			}
		})
	}
	t.Run("a description changed", func(t *testing.T) {
		dir := filepath.Join(root, "fields_tests")
		f := filepath.Join(dir, "data_stream", "first", "fields", "base-fields.yml")
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(strings.Replace(string(b), "Event timestamp.", "When it happened.", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := runCLI(t, "build", dir, "--check-readme", "--ecs-base-url", ecsURL)
		if code != 1 || !strings.Contains(stderr, "docs/README.md is outdated") || !strings.Contains(stderr, "When it happened.") {
			t.Fatalf("exit %d, want 1 naming docs/README.md\n%s%s", code, stdout, stderr)
		}
	})
}
