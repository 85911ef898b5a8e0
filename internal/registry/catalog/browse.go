package catalog

import (
	"encoding/json"
	"fmt"

	"pkgstore/internal/pkg/packagedoc"
)

// Accessors for readers other than the EPR routes (the web catalog): they
// expose what a revision already holds without changing how it is built.

// Release returns the manifest's release field ("" when absent).
func (r *Revision) Release() string { return r.release }

// Type returns the package type ("integration" when the manifest has none).
func (r *Revision) Type() string { return r.typ }

// Prerelease reports whether the version carries a semver prerelease tag.
func (r *Revision) Prerelease() bool { return r.prerelease }

// Revisions returns every revision in index order. The slice is the
// catalog's own: callers must not modify it.
func (c *Catalog) Revisions() []*Revision { return c.revs }

// Versions returns the revisions of name, in index order.
func (c *Catalog) Versions(name string) []*Revision {
	var out []*Revision
	for _, r := range c.revs {
		if r.ID.Name == name {
			out = append(out, r)
		}
	}
	return out
}

// Base decodes r's /search form as this catalog serves it (with the
// propagated deprecation notice).
func (c *Catalog) Base(r *Revision) (*packagedoc.BasePackage, error) {
	var bp packagedoc.BasePackage
	if err := json.Unmarshal(c.baseBytes(r), &bp); err != nil {
		return nil, fmt.Errorf("package %s: decode base form: %w", r.ID, err)
	}
	return &bp, nil
}
