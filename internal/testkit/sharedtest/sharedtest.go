// Package sharedtest gives tests and benchmarks the archives of the shared
// test data (../shared/testdata next to the module: the v1 production sample,
// the package-spec fixtures) unpacked into temporary folders. Callers skip
// when the shared folder is absent, so the module's own tests pass on a
// fresh clone.
package sharedtest

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Archives in ../shared/testdata.
const (
	V1Sample     = "v1-sample.tar.gz"     // packages/NAME/VERSION/ of v1 production
	SpecFixtures = "spec-fixtures.tar.gz" // valid/NAME/ and invalid/NAME/ packages
	// ElasticPackagePackages is elastic-package's test/packages/other: one
	// source package per top-level folder.
	ElasticPackagePackages = "elastic-package-packages.tar.gz"
	// ECSSchemas holds REF/generated/ecs/ecs_nested.yml for every ECS
	// reference the test packages name.
	ECSSchemas = "ecs-schemas.tar.gz"
)

// V1Revisions is the number of packages/NAME/VERSION folders in V1Sample.
const V1Revisions = 269

// Locate returns ../shared next to the module root (the folder holding
// go.mod, found by walking up from the working directory), or "" when it is
// absent.
func Locate() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	shared := filepath.Join(filepath.Dir(dir), "shared")
	if _, err := os.Stat(shared); err != nil {
		return ""
	}
	return shared
}

// Dir returns ../shared, or skips tb when it is absent.
func Dir(tb testing.TB) string {
	tb.Helper()
	d := Locate()
	if d == "" {
		tb.Skip("../shared is not next to the module: shared test data unavailable")
	}
	return d
}

// Archive returns the path of ../shared/testdata/name, or skips tb when it
// is absent.
func Archive(tb testing.TB, name string) string {
	tb.Helper()
	p := filepath.Join(Dir(tb), "testdata", name)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared test data not available: %v", err)
	}
	return p
}

// Unpack extracts the archive name into a temporary folder and returns it.
func Unpack(tb testing.TB, name string) string {
	tb.Helper()
	src := Archive(tb, name)
	dst := tb.TempDir()
	if err := extract(src, dst); err != nil {
		tb.Fatalf("unpack %s: %v", name, err)
	}
	return dst
}

// UnpackV1 extracts the v1 sample and returns the folder holding packages/
// (the shape of a v1 branch checkout).
func UnpackV1(tb testing.TB) string {
	tb.Helper()
	dst := Unpack(tb, V1Sample)
	if _, err := os.Stat(filepath.Join(dst, "packages")); err != nil {
		tb.Fatalf("v1 sample has no packages/ folder: %v", err)
	}
	return dst
}

func extract(src, dst string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	made := map[string]bool{}
	mkdir := func(d string) error {
		if made[d] {
			return nil
		}
		made[d] = true
		return os.MkdirAll(d, 0o755)
	}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(filepath.FromSlash(h.Name))
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, ".."+string(filepath.Separator)) {
			return fmt.Errorf("unsafe path %q in archive", h.Name)
		}
		p := filepath.Join(dst, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := mkdir(p); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := mkdir(filepath.Dir(p)); err != nil {
				return err
			}
			out, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}
