// Package buildinfo says which pkgstore is running: the module version, the
// VCS revision it was built from and the Go version, as the Go toolchain
// recorded them in the binary (runtime/debug.ReadBuildInfo).
package buildinfo

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Info describes a build.
type Info struct {
	// Version is the main module's version ("(devel)" for a build from a
	// checkout, v1.2.3 for `go install pkgstore@v1.2.3`).
	Version string `json:"version"`
	// Revision is the VCS commit the binary was built from ("" when the
	// build had no VCS information, e.g. -buildvcs=false).
	Revision string `json:"revision,omitempty"`
	// Time is the commit time (RFC 3339), when known.
	Time string `json:"time,omitempty"`
	// Modified is true when the working tree had uncommitted changes.
	Modified bool `json:"modified,omitempty"`
	// GoVersion is the toolchain that built the binary.
	GoVersion string `json:"go_version"`
}

// Read returns the running binary's build information.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		// Only binaries built without module support lack it.
		return Info{Version: "unknown", GoVersion: "unknown"}
	}
	return fromBuildInfo(bi)
}

func fromBuildInfo(bi *debug.BuildInfo) Info {
	in := Info{Version: bi.Main.Version, GoVersion: bi.GoVersion}
	if in.Version == "" {
		// Test binaries have no main module version.
		in.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// Short is the version and the abbreviated revision, for log lines and
// /health: "(devel) 1a2b3c4d5e6f+dirty", "v1.2.3".
func (in Info) Short() string {
	s := in.Version
	if in.Revision != "" {
		rev := in.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if in.Modified {
			rev += "+dirty"
		}
		s += " " + rev
	}
	return s
}

// String is the full description `pkgstore version` prints.
func (in Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pkgstore %s\n", in.Version)
	if in.Revision != "" {
		fmt.Fprintf(&b, "revision %s", in.Revision)
		if in.Modified {
			b.WriteString(" (modified)")
		}
		if in.Time != "" {
			fmt.Fprintf(&b, " %s", in.Time)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%s\n", in.GoVersion)
	return b.String()
}
