package main

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pkgstore/internal/build/eptest"
	"pkgstore/internal/ecs"
	"pkgstore/internal/shareddata"
	"pkgstore/internal/signature/sigtest"
)

// TestBuildCommand builds real package-spec fixtures (one with *.link files
// pointing into _dev) through validation, with and without signing.
func TestBuildCommand(t *testing.T) {
	fixtures := shareddata.Unpack(t, shareddata.SpecFixtures)
	key := sigtest.NewKey(t, "owner")
	ecsURL, ecsDir := eptest.ServeECS(t)
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
	corpus := shareddata.Unpack(t, shareddata.ElasticPackagePackages)
	pkg := filepath.Join(corpus, "with_links")
	ecsURL, _ := eptest.ServeECS(t)
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
