package ui

import (
	"strings"

	"pkgstore/internal/registry/catalog"
)

// Label is a badge: Class picks its colour, Text is what it says.
type Label struct {
	Class, Text string
}

// labels returns a revision's release badge and, when the version has a
// semver prerelease tag (what the prerelease filter hides, as EPR's does),
// a prerelease badge. The release follows Kibana Fleet's rule
// (package_prerelease.ts): a 0.x version or a "-preview" tag is a
// technical preview, "-rc" a release candidate, any other tag a beta;
// without a tag the manifest's release field decides (experimental is a
// technical preview, beta a beta, anything else GA).
func labels(rev *catalog.Revision, version string) []Label {
	return labelsFor(version, rev.Release())
}

// labelsFor is labels from the version and the manifest's release field.
func labelsFor(version, release string) []Label {
	var out []Label
	pre := strings.Contains(version, "-")
	switch {
	case strings.HasPrefix(version, "0") || strings.Contains(version, "-preview"):
		out = append(out, Label{"preview", "technical preview"})
	case strings.Contains(version, "-rc"):
		out = append(out, Label{"beta", "release candidate"})
	case pre:
		out = append(out, Label{"beta", "beta"})
	case release == "experimental":
		out = append(out, Label{"preview", "technical preview"})
	case release == "beta":
		out = append(out, Label{"beta", "beta"})
	default:
		out = append(out, Label{"ga", "GA"})
	}
	if pre {
		out = append(out, Label{"pre", "prerelease"})
	}
	return out
}
