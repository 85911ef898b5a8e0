package server_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"pkgstore/internal/server"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/ziptest"
)

// TestRequirePackages: with RequirePackages (what package-registry sets
// when only package paths serve), no package at all stops the start with
// EPR's words, whether the paths are absent, empty, missing or hold only
// what is not a package; one package is enough. (Found by the generated
// deployments, TestEPRDeployments.)
func TestRequirePackages(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	junk := t.TempDir()
	os.WriteFile(filepath.Join(junk, "README.txt"), []byte("not a package"), 0o644)
	os.MkdirAll(filepath.Join(junk, "name-1.0.0"), 0o755)
	one := t.TempDir()
	os.WriteFile(filepath.Join(one, "one-1.0.0.zip"), ziptest.SortedPackage(t, "one", "1.0.0", nil), 0o644)
	for _, tc := range []struct {
		name    string
		paths   []string
		require bool
		want    error
	}{
		{"no package path", nil, true, server.ErrNoPackages},
		{"empty folder", []string{empty}, true, server.ErrNoPackages},
		{"missing folder", []string{filepath.Join(empty, "missing")}, true, server.ErrNoPackages},
		{"no package in it", []string{junk, empty}, true, server.ErrNoPackages},
		{"one package", []string{empty, one}, true, nil},
		{"not required: empty starts", []string{empty}, false, nil},
		{"not required: nothing starts", nil, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := server.New(t.Context(), server.Config{
				Storage:          storage.Config{DataDir: t.TempDir()},
				PackagePaths:     tc.paths,
				NoSpecValidation: true,
				RequirePackages:  tc.require,
			})
			if err == nil {
				s.Close()
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("server.New: %v, want %v", err, tc.want)
			}
		})
	}
}
