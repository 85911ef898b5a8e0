// Package packagedoc builds the package document EPR serves at
// /package/NAME/VERSION/ (and stores in the index as package_manifest) from
// a package's files.
package packagedoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/Masterminds/semver/v3"
	"go.yaml.in/yaml/v3"
)

// Options carry facts not found in the package files.
type Options struct {
	// Signed adds signature_path: the revision has a detached signature.
	Signed bool
}

type manifest struct {
	FormatVersion string `yaml:"format_version"`
	Name          string `yaml:"name"`
	Title         string `yaml:"title"`
	Version       string `yaml:"version"`
	Release       string `yaml:"release"`
	Description   string `yaml:"description"`
	Type          string `yaml:"type"`
	Icons         []struct {
		Src   string `yaml:"src"`
		Title string `yaml:"title"`
		Size  string `yaml:"size"`
		Type  string `yaml:"type"`
	} `yaml:"icons"`
	Categories []string `yaml:"categories"`
}

// ErrNoManifest is returned when the package root has no manifest.yml.
var ErrNoManifest = errors.New("manifest.yml not found at the package root")

// Build reads the package rooted at fsys and returns its document.
func Build(fsys fs.FS, opts Options) (*Package, error) {
	data, err := fs.ReadFile(fsys, "manifest.yml")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNoManifest
		}
		return nil, fmt.Errorf("read manifest.yml: %w", err)
	}
	var m manifest
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("parse manifest.yml: %w", err)
	}
	p := &Package{BasePackage: BasePackage{
		Name: m.Name, Title: m.Title, Version: m.Version, Release: m.Release,
		Description: m.Description, Type: m.Type, Categories: m.Categories,
	}, FormatVersion: m.FormatVersion}
	base := "/package/" + m.Name + "/" + m.Version
	p.Download = "/epr/" + m.Name + "/" + m.Name + "-" + m.Version + ".zip"
	p.Path = base
	if opts.Signed {
		p.SignaturePath = p.Download + ".sig"
	}
	if p.Type == "" {
		p.Type = "integration"
	}
	if p.Release == "" {
		p.Release = "ga"
		if v, err := semver.StrictNewVersion(m.Version); err == nil && (v.Major() == 0 || v.Prerelease() != "") {
			p.Release = "beta"
		}
	}
	p.License = "basic"
	for _, ic := range m.Icons {
		p.Icons = append(p.Icons, Image{Src: ic.Src, Path: base + ic.Src, Title: ic.Title, Size: ic.Size, Type: ic.Type})
	}
	if _, err := fs.Stat(fsys, "docs/README.md"); err == nil {
		p.Readme = base + "/docs/README.md"
	}
	return p, nil
}

// Marshal encodes v as EPR does: 2-space indent, no HTML escaping, trailing
// newline.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
