// Package packageid holds the identity of a package revision (NAME-VERSION)
// and the rules for well-formed names, versions and artifact file names.
package packageid

import (
	"errors"
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"
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
	if !IsName(name) {
		return fmt.Errorf("%w: got %q", ErrBadName, name)
	}
	return nil
}

// ValidVersion reports whether v is strict semver.
func ValidVersion(v string) error {
	if !IsStrictSemver(v) {
		return fmt.Errorf("%w: got %q", ErrBadVersion, v)
	}
	return nil
}

// IsName reports whether s matches ^[a-z0-9_]+$, the package-spec's name
// pattern and EPR's route variable. (Hand-written rather than a regexp:
// it runs on every registry request; packageid_test checks it against the
// pattern.)
func IsName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// IsStrictSemver reports whether v is strict semver: the package-spec's
// pattern
//
//	^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+)?$
//
// (N.N.N without leading zeros, an optional dot-separated prerelease, an
// optional single build part), hand-written for the same reason as IsName.
func IsStrictSemver(v string) bool {
	i := 0
	for part := 0; part < 3; part++ {
		if part > 0 {
			if i >= len(v) || v[i] != '.' {
				return false
			}
			i++
		}
		start := i
		for i < len(v) && '0' <= v[i] && v[i] <= '9' {
			i++
		}
		if i == start || v[start] == '0' && i-start > 1 {
			return false
		}
	}
	if i < len(v) && v[i] == '-' {
		for {
			i++ // past '-' or '.'
			start := i
			for i < len(v) && isIdentByte(v[i]) {
				i++
			}
			if i == start {
				return false
			}
			if i == len(v) || v[i] != '.' {
				break
			}
		}
	}
	if i < len(v) && v[i] == '+' {
		i++
		start := i
		for i < len(v) && isIdentByte(v[i]) {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(v)
}

// isIdentByte is [0-9A-Za-z-].
func isIdentByte(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-'
}

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
