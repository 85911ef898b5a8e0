// Package validate checks Elastic packages against the package specification
// (format versions 1.0.0 to 3.7.0-next): folder structure per package type,
// JSON-schema validation of every known file, semantic rules and limits.
//
// The schemas are our own, embedded with go:embed (see the spec folder) and
// compiled with github.com/santhosh-tekuri/jsonschema/v6; nothing is fetched
// at run time.
package validate

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Validation modes.
const (
	ModeLegacy = "legacy"
	ModeSource = "source"
	ModeBuild  = "build"
)

// Options tune one validation.
type Options struct {
	// Mode: "legacy" (default), "source" (directory with _dev, *.link resolved
	// and checksum-checked) or "build" (built zip).
	Mode string
	// WarningsAsErrors mirrors PACKAGE_SPEC_WARNINGS_AS_ERRORS.
	WarningsAsErrors bool
	// Dir is, optionally, the operating-system directory holding the package
	// root. It is only used to resolve *.link files whose target lies outside
	// the package root (for example in a sibling package); links inside the
	// package are resolved through fsys alone.
	Dir string
}

// Problem is one validation failure.
type Problem struct {
	File    string `json:"file,omitempty"`  // path relative to the package root, e.g. "manifest.yml"
	Field   string `json:"field,omitempty"` // JSON-schema field path ("(root)", "policy_templates.0.inputs.1") when applicable
	Message string `json:"message"`         // what was found and what was expected
	Code    string `json:"code,omitempty"`  // JSE00001 / PSR00001 / SVR000xx when package-spec has one, else ""
	warning bool   // coded warning: dropped unless WarningsAsErrors
}

// String renders the problem on one line, following package-spec's texts:
// `file "<File>" is invalid: field <Field>: <Message> (<Code>)`.
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
	mode := opts.Mode
	if mode == "" {
		mode = ModeLegacy
	}
	if mode != ModeLegacy && mode != ModeSource && mode != ModeBuild {
		return nil, fmt.Errorf("validate: unknown mode %q (want legacy, source or build)", opts.Mode)
	}
	if !opts.WarningsAsErrors && os.Getenv("PACKAGE_SPEC_WARNINGS_AS_ERRORS") == "true" {
		opts.WarningsAsErrors = true
	}
	p := &pkg{ctx: ctx, fsys: fsys, opts: opts, mode: mode, cache: map[string]*fileData{}}
	if err := p.run(); err != nil {
		return nil, err
	}
	return p.finish(), nil
}

// pkg holds the state of one validation.
type pkg struct {
	ctx  context.Context
	fsys fs.FS
	opts Options
	mode string

	name, typ, version string
	ver                *semver.Version // package version
	fv                 *semver.Version // format_version
	specEntry          string          // matched spec version list entry

	problems []Problem
	ioErr    error
	cache    map[string]*fileData
	files    []string // logical paths of all files seen by the walk
	excluded []string // validation.yml exclude_checks

	totalSize     int64
	totalReported bool
}

func (p *pkg) add(pr Problem) { p.problems = append(p.problems, pr) }

func (p *pkg) addf(file, format string, args ...any) {
	p.add(Problem{File: file, Message: fmt.Sprintf(format, args...)})
}

// atLeast reports whether format_version >= v.
func (p *pkg) atLeast(v string) bool { return !p.fv.LessThan(mustVer(v)) }

func (p *pkg) active(it *item) bool {
	if it.since != "" && !p.atLeast(it.since) {
		return false
	}
	if it.until != "" && p.atLeast(it.until) {
		return false
	}
	return true
}

func (p *pkg) run() error {
	if !p.readManifestHeader() {
		return p.ioErr
	}
	if p.mode != ModeLegacy {
		p.add(Problem{Message: fmt.Sprintf("validation mode '%s' is in technical preview", p.mode), Code: "", warning: true})
	}
	root := rootSpec(p.typ)
	if root.betaBefore != "" && !p.atLeast(root.betaBefore) {
		p.checkBeta("")
	}
	p.walk(".", root, false, 65535)
	if p.ioErr != nil {
		return p.ioErr
	}
	if err := p.ctx.Err(); err != nil {
		return err
	}
	p.loadExcludes()
	p.runRules()
	if p.ioErr != nil {
		return p.ioErr
	}
	return p.ctx.Err()
}

func (p *pkg) checkBeta(path string) {
	if path == "" {
		path = "."
	}
	if p.isGA() {
		p.addf("", "spec for [%s] defines beta features which can't be enabled for packages with a stable semantic version", path)
	} else if p.fv.Major() >= 3 {
		p.add(Problem{Message: fmt.Sprintf("spec for [%s] defines beta features which can't be enabled for packages with a stable semantic version", path), Code: "PSR00002"})
	}
}

func (p *pkg) isGA() bool {
	return p.ver != nil && p.ver.Major() >= 1 && p.ver.Prerelease() == ""
}

// finish applies warnings and exclude_checks and sorts nothing: problems keep
// the order in which they were found.
func (p *pkg) finish() []Problem {
	var out []Problem
	for _, pr := range p.problems {
		if pr.warning && !p.opts.WarningsAsErrors {
			continue
		}
		if pr.Code != "" && contains(p.excluded, pr.Code) {
			continue
		}
		pr.warning = false
		out = append(out, pr)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
