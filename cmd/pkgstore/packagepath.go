package main

import (
	"time"

	"github.com/spf13/pflag"
)

// MERGE (issue 22): this file stands in for the package_paths reader's
// serve flags (branch pp22 registers the same four in serve.go and serves
// them); delete it, and its two calls in serve.go, when that is merged.
var packagePaths struct {
	paths   []string
	cache   string
	watch   time.Duration
	workers int
}

// packagePathFlag registers serve's package_paths flags, with the names
// `package-registry` maps EPR's package_paths and -package-paths-* onto.
func packagePathFlag(f *pflag.FlagSet) {
	f.StringArrayVar(&packagePaths.paths, "package-path", nil, "EPR's package_paths: serve the packages under DIR in place (repeatable)")
	f.StringVar(&packagePaths.cache, "package-path-cache", "", "the package paths' cache folder")
	f.DurationVar(&packagePaths.watch, "package-path-watch-interval", 10*time.Second, "how often to rescan the package paths (0: never)")
	f.IntVar(&packagePaths.workers, "package-path-workers", 0, "packages read at once when scanning the package paths (default: GOMAXPROCS)")
}

// checkPackagePaths refuses package paths in a build without their
// reader: accepting folders and serving nothing from them would be a
// silent failure.
func checkPackagePaths() error {
	if len(packagePaths.paths) > 0 {
		return usageError("--package-path %s: this build cannot serve package_paths folders (it lacks the package_paths reader)", packagePaths.paths[0])
	}
	return nil
}
