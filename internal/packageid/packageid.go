// Package packageid holds the identity of a package revision (NAME-VERSION)
// and the rules for well-formed names, versions and artifact file names.
package packageid

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
)

var (
	nameRe = regexp.MustCompile(`^[a-z0-9_]+$`)
	// strictSemverRe is the package-spec's semver pattern: N.N.N, optional
	// dot-separated prerelease, optional single build part. Numbers have no
	// leading zeros.
	strictSemverRe = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+)?$`)
)

// ErrBadName and ErrBadVersion are returned (wrapped) for malformed parts.
var (
	ErrBadName     = errors.New("package name must match ^[a-z0-9_]+$")
	ErrBadVersion  = errors.New("package version must be strict semver (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD])")
	ErrBadFileName = errors.New("file name must be NAME-VERSION.zip")
)

// ID names one package revision.
type ID struct {
	Name    string
	Version string
}

// String returns NAME-VERSION, the revision's folder and file stem.
func (id ID) String() string { return id.Name + "-" + id.Version }

// ZipName returns NAME-VERSION.zip.
func (id ID) ZipName() string { return id.String() + ".zip" }

// Validate checks the name and version syntax.
func (id ID) Validate() error {
	if err := ValidName(id.Name); err != nil {
		return err
	}
	return ValidVersion(id.Version)
}

// ValidName reports whether name is a well-formed package name.
func ValidName(name string) error {
	if !nameRe.MatchString(name) {
		return fmt.Errorf("%w: got %q", ErrBadName, name)
	}
	return nil
}

// ValidVersion reports whether v is strict semver.
func ValidVersion(v string) error {
	if !strictSemverRe.MatchString(v) {
		return fmt.Errorf("%w: got %q", ErrBadVersion, v)
	}
	return nil
}

// IsStrictSemver reports whether v is strict semver.
func IsStrictSemver(v string) bool { return strictSemverRe.MatchString(v) }

// Parse splits NAME-VERSION. The name ends at the first '-', as in EPR's
// route pattern ([a-z0-9_]+ cannot contain '-').
func Parse(stem string) (ID, error) {
	name, version, ok := strings.Cut(stem, "-")
	if !ok {
		return ID{}, fmt.Errorf("%w: %q has no '-' between name and version", ErrBadFileName, stem)
	}
	id := ID{Name: name, Version: version}
	if err := id.Validate(); err != nil {
		return ID{}, fmt.Errorf("%q: %w", stem, err)
	}
	return id, nil
}

// ParseZipName parses NAME-VERSION.zip (a path prefix is ignored).
func ParseZipName(file string) (ID, error) {
	base := file[strings.LastIndex(file, "/")+1:]
	stem, ok := strings.CutSuffix(base, ".zip")
	if !ok {
		return ID{}, fmt.Errorf("%w: %q does not end in .zip", ErrBadFileName, base)
	}
	return Parse(stem)
}

// Compare orders two strict-semver versions; unparsable ones sort as strings.
func Compare(a, b string) int {
	va, errA := semver.StrictNewVersion(a)
	vb, errB := semver.StrictNewVersion(b)
	if errA != nil || errB != nil {
		return strings.Compare(a, b)
	}
	return va.Compare(vb)
}
