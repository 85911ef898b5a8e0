package main

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pkgstore/internal/shareddata"
	"pkgstore/internal/signature/sigtest"
)

// TestBuildCommand builds real package-spec fixtures (one with *.link files
// pointing into _dev) through validation, with and without signing.
func TestBuildCommand(t *testing.T) {
	fixtures := shareddata.Unpack(t, shareddata.SpecFixtures)
	key := sigtest.NewKey(t, "owner")

	tests := []struct {
		name     string
		pkg      string
		args     []string
		code     int
		zip      string
		signed   bool
		mentions string
	}{
		{"valid with links", "valid/with_links", nil, 0, "with_links-1.0.0.zip", false, "built"},
		{"valid, signed", "valid/good_v3", []string{"--sign-key", key.PrivatePath}, 0, "good_v3-1.1.0.zip", true, key.Fingerprint},
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
// changed link target fails the build.
func TestBuildCommandResolvesLinks(t *testing.T) {
	fixtures := shareddata.Unpack(t, shareddata.SpecFixtures)
	pkg := filepath.Join(fixtures, "valid", "with_links")
	out := filepath.Join(t.TempDir(), "out")
	if _, stderr, code := runCLI(t, "build", pkg, "-o", out, "--skip-validation"); code != 0 {
		t.Fatal(stderr)
	}
	zr, err := zip.OpenReader(filepath.Join(out, "with_links-1.0.0.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	want, err := os.ReadFile(filepath.Join(pkg, "_dev", "shared", "some_fields.yml"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := zr.Open("with_links-1.0.0/data_stream/foo/fields/some-fields.yml")
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
	if err := os.WriteFile(filepath.Join(pkg, "_dev", "shared", "some_fields.yml"), append(want, '#'), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCLI(t, "build", pkg, "-o", filepath.Join(t.TempDir(), "out2"), "--skip-validation")
	if code != 1 || !strings.Contains(stderr, "checksum mismatch") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}
