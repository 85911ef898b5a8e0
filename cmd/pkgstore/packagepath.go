package main

import "github.com/spf13/pflag"

// packagePathFlag registers serve's --package-path: EPR's package_paths,
// folders of zips and unpacked packages served in place (issue 22 item 2).
// `package-registry` passes config.yml's package_paths through it.
func packagePathFlag(f *pflag.FlagSet, paths *[]string) {
	f.StringArrayVar(paths, "package-path", nil, "folder of packages served in place, as EPR's package_paths: NAME-VERSION.zip (+ .zip.sig) and unpacked NAME/VERSION/ folders (repeatable; the first path wins a duplicate)")
}

// checkPackagePaths refuses --package-path until the package_paths reader
// (branch pp22) is merged: accepting folders and serving nothing from them
// would be a silent failure. MERGE: drop this check with pp22.
func checkPackagePaths(paths []string) error {
	if len(paths) > 0 {
		return usageError("--package-path %s: this build cannot serve package_paths folders yet (pending the package_paths reader)", paths[0])
	}
	return nil
}
