// Package pkgpath serves EPR's package_paths in place: folders of zips
// (with NAME-VERSION.zip.sig beside them) and of unpacked NAME/VERSION/
// packages, found, ordered and documented as EPR 1.40.1 finds, orders and
// documents them (epr-api.md §4). Nothing is copied: package documents are
// built from the files with internal/pkg/packagedoc (the same code the
// publishing job uses), kept as a catalog (internal/registry/catalog), and
// files, signatures and zips are read from the folders on each request.
//
// A Set scans its paths at start (a package that does not load stops the
// start, as EPR refuses to start), remembers what it built in a cache file
// keyed by path, size and modification time so that a restart over
// unchanged folders reads no zip again, and rescans on an interval (Watch)
// to pick up added, changed and removed packages.
package pkgpath

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"

	"pkgstore/internal/pkg/packagedoc"
	"pkgstore/internal/pkg/packageid"
)

// kind is how a package is laid out on disk.
type kind uint8

const (
	kindZip    kind = iota + 1 // a NAME-VERSION.zip (any name ending in .zip)
	kindFolder                 // an unpacked NAME/VERSION/ folder
)

// candidate is one package location found by a walk, in EPR's order.
type candidate struct {
	path string // zip file or version folder, absolute
	kind kind
	// verDir is the version folder's name (folders only): EPR checks it
	// against the manifest's version when validating.
	verDir string
}

// maxCandidates bounds the packages one scan accepts: a package path
// pointing at / by mistake must not walk and hold the whole disk.
const maxCandidates = 200_000

// ErrTooMany is returned when the package paths hold more than
// maxCandidates packages.
var ErrTooMany = errors.New("package paths: too many packages")

// walk finds the packages of paths as EPR's two file-system indexers do,
// in EPR's precedence order: first every zip of every path (the zip
// indexer, path by path, lexical walk), then every NAME/VERSION/ folder of
// every path (the folder indexer). A path that does not exist is skipped,
// as EPR skips it.
func walk(ctx context.Context, paths []string, warn func(msg, path string)) ([]candidate, error) {
	var out []candidate
	add := func(c candidate) error {
		if len(out) >= maxCandidates {
			return fmt.Errorf("%w: more than %d", ErrTooMany, maxCandidates)
		}
		out = append(out, c)
		return nil
	}
	for _, base := range paths {
		err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipDir
			}
			if err != nil {
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if d.IsDir() || !strings.HasSuffix(p, ".zip") {
				return nil
			}
			if d.Type()&fs.ModeSymlink != 0 {
				// A link EPR cannot open (dangling, a loop) is a .zip
				// that is not a zip to it: skipped, not a failed start.
				if _, err := os.Stat(p); err != nil {
					warn("ignoring invalid zip file", p)
					return nil
				}
			}
			// EPR opens the zip here to skip one that is not a zip;
			// load does (errNotZip), so that a zip known from the cache
			// is never opened.
			return add(candidate{path: p, kind: kindZip})
		})
		if err != nil {
			return nil, fmt.Errorf("listing packages failed (path: %s): %w", base, err)
		}
	}
	for _, base := range paths {
		err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipDir
			}
			if err != nil {
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			rel, err := filepath.Rel(base, p)
			if err != nil {
				return err
			}
			dirs := strings.Split(rel, string(filepath.Separator))
			if len(dirs) < 2 {
				return nil // down to the version level
			}
			if !d.IsDir() {
				warn("ignoring unexpected file", p)
				return nil
			}
			if _, err := semver.StrictNewVersion(dirs[1]); err != nil {
				warn("ignoring unexpected directory", p)
				return filepath.SkipDir
			}
			if err := add(candidate{path: p, kind: kindFolder, verDir: dirs[1]}); err != nil {
				return err
			}
			return filepath.SkipDir
		})
		if err != nil {
			return nil, fmt.Errorf("listing packages failed (path: %s): %w", base, err)
		}
	}
	return out, nil
}

// sigPath is where EPR looks for a package's signature: the zip's path or
// the version folder's path plus ".sig".
func sigPath(c candidate) string { return c.path + ".sig" }

// fingerprint identifies the content of a candidate without reading it:
// for a zip its size and modification time, for a folder the path, size,
// mode and modification time of everything below it; and in both cases
// whether the signature exists (it changes the document) and its own
// size and time.
func fingerprint(c candidate) (fp string, signed bool, err error) {
	h := sha256.New()
	var buf [8]byte
	put := func(s string, fi fs.FileInfo) {
		h.Write([]byte(s))
		h.Write([]byte{0})
		binary.LittleEndian.PutUint64(buf[:], uint64(fi.Size()))
		h.Write(buf[:])
		binary.LittleEndian.PutUint64(buf[:], uint64(fi.ModTime().UnixNano()))
		h.Write(buf[:])
		binary.LittleEndian.PutUint64(buf[:], uint64(fi.Mode()))
		h.Write(buf[:])
	}
	switch c.kind {
	case kindZip:
		fi, err := os.Stat(c.path)
		if err != nil {
			return "", false, err
		}
		put("", fi)
	case kindFolder:
		err := filepath.WalkDir(c.path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			put(p[len(c.path):], fi)
			return nil
		})
		if err != nil {
			return "", false, err
		}
	}
	if fi, err := os.Stat(sigPath(c)); err == nil {
		put(".sig", fi)
		signed = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	return fmt.Sprintf("%d:%x", c.kind, h.Sum(nil)), signed, nil
}

// errNotZip is load's error for a .zip that does not open as a zip: EPR
// skips it with a warning.
var errNotZip = errors.New("not a zip file")

// loaded is what loading one candidate produced: everything the cache
// keeps.
type loaded struct {
	ID     packageid.ID
	Root   string          // zips: the folder inside the zip holding manifest.yml
	Signed bool            // a signature file exists
	Doc    json.RawMessage // the package document, compact
	// Fields and FormatVersion are what decoding Doc gives the catalog
	// (catalog.Parser.RevisionOf): Doc is not decoded again.
	Fields        packagedoc.BasePackage
	FormatVersion string
}

// Options say how packages are loaded.
type Options struct {
	// Validate applies EPR's load-time checks (epr-api.md §4.3); EPR's
	// -disable-package-validation turns them off.
	Validate bool
	// RequireSignatures refuses a package without a signature file, as
	// EPR does by default (-require-package-signatures).
	RequireSignatures bool
}

// key is what a cached document depends on besides the files.
func (o Options) key() string { return fmt.Sprintf("v2 validate=%t", o.Validate) }

// load builds the document of one candidate. signed is whether its
// fingerprint found a signature file (the same stat: the cache key and
// the document agree on it). The document is encoded into buf, which the
// caller reuses for its next load: Doc is only valid until then (the
// catalog and the cache pack copy what they keep).
func load(c candidate, o Options, signed bool, buf *bytes.Buffer) (*loaded, error) {
	var (
		fsys  fs.FS
		root  string
		order []string
	)
	switch c.kind {
	case kindZip:
		f, err := os.Open(c.path)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errNotZip, err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errNotZip, err)
		}
		br := newBlockReader(f, fi.Size())
		defer br.release()
		zr, err := zip.NewReader(br, fi.Size())
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errNotZip, err)
		}
		if root, err = zipRoot(zr); err != nil {
			return nil, err
		}
		if fsys, err = fs.Sub(zr, root); err != nil {
			return nil, err
		}
		for _, f := range zr.File {
			if rel, ok := strings.CutPrefix(f.Name, root+"/"); ok && rel != "" && !strings.HasSuffix(rel, "/") {
				order = append(order, rel)
			}
		}
	case kindFolder:
		r, err := os.OpenRoot(c.path)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		fsys = r.FS()
	}
	p, err := packagedoc.Build(fsys, packagedoc.Options{Signed: signed, FileOrder: order})
	if err != nil {
		return nil, err
	}
	if o.Validate {
		if err := validate(fsys, p, c); err != nil {
			return nil, err
		}
	}
	// Compact, as the index holds documents (the catalog renders them in
	// EPR's format); HTML characters unescaped, as EPR writes them.
	buf.Reset()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	// The name and version are slices of the manifest's text (packagedoc's
	// YAML reader keeps one copy of a file and slices it): copied, so that
	// the ID the set keeps for as long as it serves the package does not
	// hold the whole manifest.
	return &loaded{ID: packageid.ID{Name: strings.Clone(p.Name), Version: strings.Clone(p.Version)}, Root: root, Signed: signed, Doc: bytes.TrimSuffix(buf.Bytes(), []byte("\n")),
		Fields: p.Decoded(), FormatVersion: p.FormatVersion}, nil
}

// zipRoot returns the package folder of a zip: the first folder one level
// down holding manifest.yml, in entry order (EPR does not check its name).
func zipRoot(zr *zip.Reader) (string, error) {
	for _, f := range zr.File {
		dir, file, ok := strings.Cut(f.Name, "/")
		if ok && file == "manifest.yml" && dir != "" && dir != "." && dir != ".." {
			return dir, nil
		}
	}
	return "", errors.New("failed to determine root directory in package")
}

// validate applies the checks EPR's loader makes unless validation is
// disabled (epr-api.md §4.3): format_version, title and description,
// images that exist, a version folder that names the manifest's version.
func validate(fsys fs.FS, p *packagedoc.Package, c candidate) error {
	if p.FormatVersion == "" {
		return errors.New("no format_version set")
	}
	if _, err := semver.StrictNewVersion(p.FormatVersion); err != nil {
		return fmt.Errorf("invalid package specification format version: %w", err)
	}
	if p.Title == nil || *p.Title == "" {
		return errors.New("no title set")
	}
	if p.Description == "" {
		return errors.New("no description set")
	}
	if c.kind == kindFolder && !sameVersion(c.verDir, p.Version) {
		return fmt.Errorf("version in manifest file is not consistent with path: inconsistent versions (path: %s, manifest: %s)", c.verDir, p.Version)
	}
	imgs := append(append([]packagedoc.Image(nil), p.Icons...), p.Screenshots...)
	for _, pt := range p.PolicyTemplates {
		imgs = append(append(imgs, pt.Icons...), pt.Screenshots...)
	}
	for _, im := range imgs {
		if _, err := fs.Stat(fsys, strings.TrimPrefix(filepathToSlash(im.Src), "/")); err != nil {
			return fmt.Errorf("image %s does not exist: %w", im.Src, err)
		}
	}
	return nil
}

func filepathToSlash(s string) string { return filepath.ToSlash(s) }

// sameVersion compares a version folder's name with the manifest's
// version as EPR does: as semver versions, so build metadata does not
// count (1.0.0+build.7/ holds 1.0.0). Both are strict semver by then (the
// walk and the manifest's reader check it); anything else differs.
func sameVersion(dir, manifest string) bool {
	a, err := semver.StrictNewVersion(dir)
	if err != nil {
		return false
	}
	b, err := semver.StrictNewVersion(manifest)
	return err == nil && a.Equal(b)
}
