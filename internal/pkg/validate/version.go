package validate

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"
)

//go:embed spec/versions.txt
var versionsTxt []byte

var (
	specVersionsOnce sync.Once
	specVersions     []string
)

// SpecVersions returns the package-spec versions this validator knows, oldest
// first; an entry with a prerelease (such as 3.7.0-next) is unreleased.
func SpecVersions() []string {
	specVersionsOnce.Do(func() {
		sc := bufio.NewScanner(bytes.NewReader(versionsTxt))
		for sc.Scan() {
			l := strings.TrimSpace(sc.Text())
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			specVersions = append(specVersions, l)
		}
	})
	return append([]string(nil), specVersions...)
}

// resolveSpecVersion finds the spec entry that format_version refers to:
// major.minor.patch (and the package's own prerelease) must equal the entry
// with its prerelease stripped.
func resolveSpecVersion(fv *semver.Version) (string, bool) {
	for _, e := range SpecVersions() {
		ev, err := semver.NewVersion(e)
		if err != nil {
			continue
		}
		base, _ := ev.SetPrerelease("")
		if fv.Major() == base.Major() && fv.Minor() == base.Minor() && fv.Patch() == base.Patch() && fv.Prerelease() == "" {
			return e, true
		}
	}
	return "", false
}

var verCache sync.Map

func mustVer(s string) *semver.Version {
	if v, ok := verCache.Load(s); ok {
		return v.(*semver.Version)
	}
	v, err := semver.NewVersion(s)
	if err != nil {
		panic(fmt.Sprintf("validate: bad built-in version %q", s))
	}
	verCache.Store(s, v)
	return v
}
