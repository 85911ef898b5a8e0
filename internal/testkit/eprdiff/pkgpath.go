package eprdiff

import (
	"os"
	"path/filepath"
	"testing"

	"pkgstore/internal/server"
	"pkgstore/internal/testkit/eprtest"
	"pkgstore/internal/testkit/sigtest"
)

// PathsOptions say how a package-paths pair serves its folders.
type PathsOptions struct {
	// Validate keeps EPR's load-time validation on both sides (false:
	// -disable-package-validation and --no-spec-validation).
	Validate bool
	// RequireSignatures refuses packages without a signature file on both
	// sides (EPR's default).
	RequireSignatures bool
	// Configure edits our store's config further.
	Configure func(*server.Config)
	// EPR adds flags to the reference.
	EPR eprtest.Options
}

// StartPackagePaths serves paths in place on both sides: the reference
// with them as its package_paths, our store with --package-path (nothing
// published). c lists the same packages (in EPR's precedence order), only
// to build the request lists: Revisions returns its packages.
func StartPackagePaths(tb testing.TB, c *Corpus, paths []string, o PathsOptions) *Pair {
	tb.Helper()
	p := StartOurs(tb, c, Options{NoPublish: true, Configure: func(cfg *server.Config) {
		cfg.PackagePaths = paths
		cfg.NoSpecValidation = !o.Validate
		cfg.RequireSignatures = o.RequireSignatures
		if o.Configure != nil {
			o.Configure(cfg)
		}
	}})
	p.published = append([]Package(nil), c.Packages...)
	eo := o.EPR
	eo.PackagePaths = paths
	eo.RequireSignatures = o.RequireSignatures
	eo.Validate = o.Validate
	eo.Args = append([]string{"-log-level", "warn"}, eo.Args...)
	p.Ref = eprtest.Start(tb, eo)
	return p
}

// WriteZipDir writes every package of c as NAME-VERSION.zip into a new
// folder, each with a .zip.sig by key when key is not nil, and returns the
// folder.
func WriteZipDir(tb testing.TB, c *Corpus, key *sigtest.Key) string {
	tb.Helper()
	dir := tb.TempDir()
	WriteZipsInto(tb, c, dir, key)
	return dir
}

// WriteZipsInto is WriteZipDir into an existing folder dir.
func WriteZipsInto(tb testing.TB, c *Corpus, dir string, key *sigtest.Key) {
	tb.Helper()
	for _, pk := range c.Packages {
		zp := filepath.Join(dir, pk.ID.ZipName())
		if err := os.WriteFile(zp, pk.Zip, 0o644); err != nil {
			tb.Fatal(err)
		}
		if key != nil {
			if err := os.WriteFile(zp+".sig", key.Sign(tb, pk.Zip), 0o644); err != nil {
				tb.Fatal(err)
			}
		}
	}
}
