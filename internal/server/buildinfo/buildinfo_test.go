package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	for _, tc := range []struct {
		name        string
		bi          debug.BuildInfo
		short, full string
	}{
		{"release", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}},
			"v1.2.3", "pkgstore v1.2.3\ngo1.26.8\n"},
		{"checkout", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-12-06T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"}}},
			"(devel) 0123456789ab+dirty",
			"pkgstore (devel)\nrevision 0123456789abcdef0123456789abcdef01234567 (modified) 2026-12-06T10:00:00Z\ngo1.26.8\n"},
		{"test binary", debug.BuildInfo{GoVersion: "go1.26.8"}, "(devel)", "pkgstore (devel)\ngo1.26.8\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := fromBuildInfo(&tc.bi)
			if got := in.Short(); got != tc.short {
				t.Errorf("Short() = %q, want %q", got, tc.short)
			}
			if got := in.String(); got != tc.full {
				t.Errorf("String() = %q, want %q", got, tc.full)
			}
		})
	}
}

func TestReadNamesThisToolchain(t *testing.T) {
	in := Read()
	if in.GoVersion != runtime.Version() || !strings.HasPrefix(in.GoVersion, "go") {
		t.Errorf("GoVersion = %q, want %q", in.GoVersion, runtime.Version())
	}
	if in.Version == "" {
		t.Error("empty Version")
	}
}
