package builder

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"pkgstore/internal/pkg/yamldoc"
)

// ErrNoPackageRoot is returned (wrapped) by FindPackageRoot when no folder
// at or above the start is a package.
var ErrNoPackageRoot = errors.New("package root not found")

// FindPackageRoot returns the package folder holding dir, as
// elastic-package finds it when run without a folder: the nearest folder at
// or above dir whose manifest.yml is a package's (type integration, input
// or content, with a version). A data stream's manifest.yml is not, so a
// build from data_stream/DS builds the package around it.
func FindPackageRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("locate package root: %w", err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		ok, err := isPackageManifest(filepath.Join(d, "manifest.yml"))
		if err != nil {
			return "", fmt.Errorf("locate package root: %w", err)
		}
		if ok {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%w at or above %s (no manifest.yml of type integration, input or content)", ErrNoPackageRoot, abs)
		}
	}
}

// isPackageManifest reports whether p is a package's manifest.yml; a
// missing file is not an error.
func isPackageManifest(p string) (bool, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return false, nil
	}
	b, err := io.ReadAll(io.LimitReader(f, 4<<20))
	if err != nil {
		return false, fmt.Errorf("read %s: %w", p, err)
	}
	var m struct {
		Type    string `yaml:"type"`
		Version string `yaml:"version"`
	}
	if err := yamldoc.Unmarshal(b, &m); err != nil {
		// Not a package's manifest (it may be anything named so); keep
		// looking above, as elastic-package would not build it either.
		return false, nil
	}
	switch m.Type {
	case "integration", "input", "content":
		return m.Version != "", nil
	}
	return false, nil
}
