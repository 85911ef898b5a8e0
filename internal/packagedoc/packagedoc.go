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

// Package is the full package document. Field order is EPR's key order.
type Package struct {
	Name          string      `json:"name"`
	Title         string      `json:"title,omitempty"`
	Version       string      `json:"version"`
	Release       string      `json:"release,omitempty"`
	Description   string      `json:"description"`
	Type          string      `json:"type"`
	Download      string      `json:"download"`
	Path          string      `json:"path"`
	Icons         []Image     `json:"icons,omitempty"`
	Conditions    *Conditions `json:"conditions,omitempty"`
	Owner         *Owner      `json:"owner,omitempty"`
	Categories    []string    `json:"categories,omitempty"`
	SignaturePath string      `json:"signature_path,omitempty"`
	FormatVersion string      `json:"format_version"`
	Readme        string      `json:"readme,omitempty"`
	License       string      `json:"license,omitempty"`
}

// Image is an icon or screenshot.
type Image struct {
	Src   string `json:"src" yaml:"src"`
	Path  string `json:"path"`
	Title string `json:"title,omitempty" yaml:"title"`
	Size  string `json:"size,omitempty" yaml:"size"`
	Type  string `json:"type,omitempty" yaml:"type"`
}

// Conditions of a package.
type Conditions struct {
	Kibana  *VersionCondition  `json:"kibana,omitempty" yaml:"kibana"`
	Elastic *ElasticConditions `json:"elastic,omitempty" yaml:"elastic"`
	Agent   *VersionCondition  `json:"agent,omitempty" yaml:"agent"`
}

// VersionCondition is a semver constraint.
type VersionCondition struct {
	Version string `json:"version,omitempty" yaml:"version"`
}

// ElasticConditions are subscription and capability requirements.
type ElasticConditions struct {
	Subscription string   `json:"subscription" yaml:"subscription"`
	Capabilities []string `json:"capabilities,omitempty" yaml:"capabilities"`
}

// Owner of a package.
type Owner struct {
	Type   string `json:"type,omitempty" yaml:"type"`
	Github string `json:"github,omitempty" yaml:"github"`
}

type manifest struct {
	FormatVersion string      `yaml:"format_version"`
	Name          string      `yaml:"name"`
	Title         string      `yaml:"title"`
	Version       string      `yaml:"version"`
	Release       string      `yaml:"release"`
	Description   string      `yaml:"description"`
	Type          string      `yaml:"type"`
	Icons         []Image     `yaml:"icons"`
	Conditions    *Conditions `yaml:"conditions"`
	Owner         *Owner      `yaml:"owner"`
	Categories    []string    `yaml:"categories"`
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
	p := &Package{
		Name: m.Name, Title: m.Title, Version: m.Version, Release: m.Release,
		Description: m.Description, Type: m.Type, Conditions: m.Conditions,
		Owner: m.Owner, Categories: m.Categories, FormatVersion: m.FormatVersion,
	}
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
	if m.Conditions != nil && m.Conditions.Elastic != nil && m.Conditions.Elastic.Subscription != "" {
		p.License = m.Conditions.Elastic.Subscription
	}
	for _, ic := range m.Icons {
		ic.Path = base + "/" + ic.Src
		p.Icons = append(p.Icons, ic)
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
