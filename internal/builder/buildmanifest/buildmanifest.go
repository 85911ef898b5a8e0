// Package buildmanifest reads a source package's _dev/build/build.yml: the
// external dependencies of its fields (the ECS reference) and whether ECS
// dynamic mappings are imported into the built package.
package buildmanifest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Path is where the build manifest lives below a package's root.
const Path = "_dev/build/build.yml"

// GitPrefix starts every ECS reference: "git@REF".
const GitPrefix = "git@"

// maxSize bounds what is read of build.yml: it is a few lines.
const maxSize = 1 << 20

// BuildManifest has the shape of _dev/build/build.yml.
type BuildManifest struct {
	Dependencies Dependencies `yaml:"dependencies"`
}

// Dependencies are the schemas external fields come from.
type Dependencies struct {
	ECS ECSDependency `yaml:"ecs"`
}

// ECSDependency names the ECS version fields marked `external: ecs` take
// their definitions from.
type ECSDependency struct {
	Reference      string `yaml:"reference"`       // "git@REF"
	ImportMappings bool   `yaml:"import_mappings"` // embed ECS dynamic templates
}

// HasDependencies reports whether any external schema is named.
func (m *BuildManifest) HasDependencies() bool {
	return m != nil && m.Dependencies.ECS.Reference != ""
}

// ImportMappings reports whether ECS dynamic templates are to be added to
// the built package's index templates.
func (m *BuildManifest) ImportMappings() bool {
	return m != nil && m.Dependencies.ECS.ImportMappings
}

// ECSRef returns REF of the ECS reference "git@REF", or "" when there is
// none.
func (m *BuildManifest) ECSRef() (string, error) {
	if !m.HasDependencies() {
		return "", nil
	}
	return ParseReference(m.Dependencies.ECS.Reference)
}

// ParseReference returns REF of "git@REF".
func ParseReference(ref string) (string, error) {
	if !strings.HasPrefix(ref, GitPrefix) || len(ref) == len(GitPrefix) {
		return "", fmt.Errorf("%s: ECS reference %q must have the form git@REF", Path, ref)
	}
	return ref[len(GitPrefix):], nil
}

// Read reads pkgDir/_dev/build/build.yml. found is false, with no error,
// when the package has none.
func Read(pkgDir string) (m *BuildManifest, found bool, err error) {
	f, err := os.Open(filepath.Join(pkgDir, filepath.FromSlash(Path)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read build manifest: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, false, fmt.Errorf("read build manifest: %w", err)
	}
	if len(b) > maxSize {
		return nil, false, fmt.Errorf("%s is larger than %d bytes", Path, maxSize)
	}
	m = &BuildManifest{}
	if err := yaml.Unmarshal(b, m); err != nil {
		return nil, false, fmt.Errorf("parse %s: %w", Path, err)
	}
	return m, true, nil
}
