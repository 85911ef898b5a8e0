// Package archive opens package zips defensively: it refuses anything a
// careless extractor could be tricked by (paths escaping the root, links,
// duplicate names, bombs) before a single file is read.
package archive

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"unicode/utf8"

	"pkgstore/internal/api"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/yamldoc"
)

// Limits bound what a package may expand to. The defaults are package-spec's.
type Limits struct {
	MaxTotalSize int64 // sum of uncompressed sizes
	MaxFileSize  int64 // one uncompressed file
	MaxRatio     int64 // uncompressed/compressed size of one entry (zip bombs)
	MaxEntries   int   // number of entries
}

// DefaultLimits are 250 MB in all, 150 MB per file (package-spec's limits),
// a compression ratio of 200 and 100,000 entries.
var DefaultLimits = Limits{MaxTotalSize: 250 << 20, MaxFileSize: 150 << 20, MaxRatio: 200, MaxEntries: 100_000}

// ratioFloor is the uncompressed size below which the ratio check does not
// apply: tiny, highly compressible files (empty JSON, repeated lines) are
// normal, and cannot make a bomb.
const ratioFloor = 1 << 20

// MaxManifestSize bounds manifest.yml (package-spec's limit is 5 MB).
const MaxManifestSize = 5 << 20

// Error is one reason a zip was refused: the check that failed, the entry it
// concerns (if any), and what was found against what was expected.
type Error struct {
	Check string // api.CheckZip, CheckPath, CheckSize, CheckRoot or CheckManifest
	File  string // entry name inside the zip, or ""
	Msg   string
}

func (e *Error) Error() string {
	if e.File == "" {
		return e.Check + ": " + e.Msg
	}
	return fmt.Sprintf("%s: %q: %s", e.Check, e.File, e.Msg)
}

func refuse(check, file, format string, args ...any) *Error {
	return &Error{Check: check, File: file, Msg: fmt.Sprintf(format, args...)}
}

// File is one regular file of the package.
type File struct {
	Path string // relative to the package root, slash-separated
	Size int64  // uncompressed
	zf   *zip.File
}

// Open returns the file's content. Reads fail if the content does not match
// the declared size or checksum.
func (f *File) Open() (io.ReadCloser, error) { return f.zf.Open() }

// Package is an opened, checked package zip.
type Package struct {
	ID    packageid.ID // from manifest.yml, equal to the root folder
	Root  string       // NAME-VERSION
	FS    fs.FS        // rooted at Root
	Files []*File      // regular files in zip order
	Total int64        // uncompressed bytes
}

// Open checks the zip in ra against lim and the expected identity (the file
// name's NAME-VERSION), and returns the package. Every problem found in the
// entries is reported, joined; structural problems stop at the first.
func Open(ra io.ReaderAt, size int64, want packageid.ID, lim Limits) (*Package, error) {
	return openZip(ra, size, want, lim, nil)
}

// CopyFunc receives the content of one regular file of a package while it
// is verified; it must read r to its end or fail.
type CopyFunc func(f *File, r io.Reader) error

// CopyError is a failure of a CopyFunc itself (not of the zip): the
// package was not refused, the copy failed.
type CopyError struct {
	Path string
	Err  error
}

func (e *CopyError) Error() string { return fmt.Sprintf("copy %s: %v", e.Path, e.Err) }
func (e *CopyError) Unwrap() error { return e.Err }

// OpenInto is Open that hands each regular file to sink as it verifies it,
// so that a caller extracting every file (a publication's static files)
// reads and inflates the zip once, not twice. Files are handed over in zip
// order, after the structural checks and before the manifest's; sink must
// treat what it received as provisional until OpenInto returns a package.
// A corrupt entry is a refusal (*Error) even when sink reports the read
// failure; a failure of sink alone stops at once with a *CopyError.
func OpenInto(ra io.ReaderAt, size int64, want packageid.ID, lim Limits, sink CopyFunc) (*Package, error) {
	return openZip(ra, size, want, lim, sink)
}

func openZip(ra io.ReaderAt, size int64, want packageid.ID, lim Limits, sink CopyFunc) (*Package, error) {
	zr, err := zip.NewReader(ra, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		if errors.Is(err, zip.ErrFormat) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, refuse(api.CheckZip, "", "not a readable zip file (%v): truncated or not a zip", err)
		}
		return nil, refuse(api.CheckZip, "", "cannot read zip: %v", err)
	}
	zr.RegisterDecompressor(zip.Deflate, newInflater)
	if len(zr.File) == 0 {
		return nil, refuse(api.CheckZip, "", "the zip has no entries")
	}
	if lim.MaxEntries > 0 && len(zr.File) > lim.MaxEntries {
		return nil, refuse(api.CheckSize, "", "the zip has %d entries, the limit is %d", len(zr.File), lim.MaxEntries)
	}
	var errs []error
	seen := make(map[string]bool, len(zr.File))
	roots := map[string]bool{}
	var rootOrder []string
	var total int64
	type entry struct {
		name string
		zf   *zip.File
	}
	var files []entry
	for _, zf := range zr.File {
		name := zf.Name
		if e := checkName(name); e != nil {
			errs = append(errs, e)
			continue
		}
		isDir := strings.HasSuffix(name, "/")
		clean := strings.TrimSuffix(name, "/")
		if seen[clean] {
			errs = append(errs, refuse(api.CheckPath, name, "duplicate entry name"))
			continue
		}
		seen[clean] = true
		mode := zf.Mode()
		switch {
		case mode&fs.ModeSymlink != 0:
			errs = append(errs, refuse(api.CheckPath, name, "symbolic links are not allowed"))
			continue
		case isDir || mode.IsDir():
			if !isDir {
				errs = append(errs, refuse(api.CheckPath, name, "directory entry without a trailing slash"))
			}
		case !mode.IsRegular():
			errs = append(errs, refuse(api.CheckPath, name, "only regular files and directories are allowed, found mode %v", mode))
			continue
		}
		top, _, _ := strings.Cut(clean, "/")
		if !roots[top] {
			roots[top] = true
			rootOrder = append(rootOrder, top)
		}
		if isDir {
			continue
		}
		if !strings.Contains(clean, "/") {
			errs = append(errs, refuse(api.CheckRoot, name, "file at the top level of the zip; every file must be inside the folder %s/", want))
			continue
		}
		usize, csize := int64(zf.UncompressedSize64), int64(zf.CompressedSize64)
		if zf.UncompressedSize64 > 1<<62 || usize < 0 {
			errs = append(errs, refuse(api.CheckSize, name, "declared size %d is not plausible", zf.UncompressedSize64))
			continue
		}
		if lim.MaxFileSize > 0 && usize > lim.MaxFileSize {
			errs = append(errs, refuse(api.CheckSize, name, "uncompressed size %d bytes exceeds the per-file limit of %d bytes", usize, lim.MaxFileSize))
		}
		if lim.MaxRatio > 0 && usize > ratioFloor && (csize == 0 || usize/max(csize, 1) > lim.MaxRatio) {
			errs = append(errs, refuse(api.CheckSize, name, "compression ratio %d:1 exceeds the limit of %d:1 (zip bomb?)", usize/max(csize, 1), lim.MaxRatio))
		}
		total += usize
		files = append(files, entry{clean, zf})
	}
	// A file may not also be a folder ("docs/x" beside "docs/x/y").
	isFile := make(map[string]bool, len(files))
	for _, e := range files {
		isFile[e.name] = true
	}
	for _, e := range files {
		for dir := path.Dir(e.name); dir != "."; dir = path.Dir(dir) {
			if isFile[dir] {
				errs = append(errs, refuse(api.CheckPath, e.zf.Name, "%q is both a file and a folder", dir))
				break
			}
		}
	}
	if lim.MaxTotalSize > 0 && total > lim.MaxTotalSize {
		errs = append(errs, refuse(api.CheckSize, "", "uncompressed total %d bytes exceeds the limit of %d bytes", total, lim.MaxTotalSize))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(rootOrder) != 1 {
		return nil, refuse(api.CheckRoot, "", "the zip must have exactly one top-level folder %s/, found %d: %s", want, len(rootOrder), strings.Join(rootOrder, ", "))
	}
	root := rootOrder[0]
	if root != want.String() {
		return nil, refuse(api.CheckRoot, root+"/", "top-level folder is %q, expected %q (the file name's NAME-VERSION)", root, want.String())
	}
	sub, err := fs.Sub(zr, root)
	if err != nil {
		return nil, refuse(api.CheckRoot, root+"/", "%v", err)
	}
	p := &Package{Root: root, FS: sub, Total: total}
	for _, e := range files {
		p.Files = append(p.Files, &File{Path: strings.TrimPrefix(e.name, root+"/"), Size: int64(e.zf.UncompressedSize64), zf: e.zf})
	}
	// Read every entry once: headers can lie, and a bad checksum or an
	// unsupported compression method must be a refusal now, not a failed
	// write halfway through publishing.
	for _, f := range p.Files {
		if err := verifyEntry(f, sink); err != nil {
			var ce *CopyError
			if errors.As(err, &ce) {
				return nil, ce
			}
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	id, err := ManifestID(sub)
	if err != nil {
		return nil, err
	}
	if id != want {
		return nil, refuse(api.CheckManifest, root+"/manifest.yml", "manifest declares name %q version %q, expected name %q version %q (from the file name)", id.Name, id.Version, want.Name, want.Version)
	}
	p.ID = id
	return p, nil
}

// verifyEntry reads f to its end, through sink when it is not nil.
func verifyEntry(f *File, sink CopyFunc) error {
	zf := f.zf
	if zf.Method != zip.Store && zf.Method != zip.Deflate {
		return refuse(api.CheckZip, zf.Name, "compression method %d is not supported; use deflate or store", zf.Method)
	}
	rc, err := zf.Open()
	if err != nil {
		return refuse(api.CheckZip, zf.Name, "cannot read entry: %v", err)
	}
	defer rc.Close()
	r := &readErr{r: rc}
	if sink != nil {
		if err := sink(f, r); err != nil && r.err == nil {
			return &CopyError{Path: f.Path, Err: err}
		}
	}
	// Whatever sink left unread (nothing, unless it failed reading).
	if r.err == nil {
		_, _ = io.Copy(io.Discard, r)
	}
	if r.err != nil {
		return refuse(api.CheckZip, zf.Name, "corrupt entry (%v): its content does not match its declared size and checksum", r.err)
	}
	return nil
}

// readErr remembers the first read error other than io.EOF.
type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// checkName refuses entry names that are not plain relative UTF-8 paths.
func checkName(name string) *Error {
	switch {
	case name == "":
		return refuse(api.CheckPath, name, "empty entry name")
	case !utf8.ValidString(name):
		return refuse(api.CheckPath, fmt.Sprintf("%q", name), "entry name is not valid UTF-8")
	case strings.ContainsRune(name, '\\'):
		return refuse(api.CheckPath, name, "backslash in entry name; zip paths use '/'")
	case strings.HasPrefix(name, "/") || (len(name) > 1 && name[1] == ':'):
		return refuse(api.CheckPath, name, "absolute path")
	case strings.ContainsRune(name, 0):
		return refuse(api.CheckPath, name, "NUL byte in entry name")
	}
	for _, seg := range strings.Split(strings.TrimSuffix(name, "/"), "/") {
		switch seg {
		case "..":
			return refuse(api.CheckPath, name, "'..' path segment escapes the package folder")
		case ".", "":
			return refuse(api.CheckPath, name, "empty or '.' path segment")
		}
	}
	if path.Clean(name) != strings.TrimSuffix(name, "/") {
		return refuse(api.CheckPath, name, "path is not in clean form")
	}
	return nil
}

// ManifestID reads the name and version from manifest.yml at the root of fsys,
// refusing oversized or malformed YAML (yaml.v3 refuses alias bombs).
func ManifestID(fsys fs.FS) (packageid.ID, error) {
	f, err := fsys.Open("manifest.yml")
	if err != nil {
		return packageid.ID{}, refuse(api.CheckManifest, "manifest.yml", "no manifest.yml in the package folder")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxManifestSize+1))
	if err != nil {
		return packageid.ID{}, refuse(api.CheckManifest, "manifest.yml", "cannot read: %v", err)
	}
	if len(data) > MaxManifestSize {
		return packageid.ID{}, refuse(api.CheckManifest, "manifest.yml", "larger than %d bytes", MaxManifestSize)
	}
	// Decode the whole document, not just two keys: yaml.v3 detects alias
	// bombs only while expanding, and later readers of the manifest decode
	// all of it.
	var m map[string]any
	if err := yamldoc.Unmarshal(data, &m); err != nil {
		return packageid.ID{}, refuse(api.CheckManifest, "manifest.yml", "malformed YAML: %v", err)
	}
	name, _ := m["name"].(string)
	version, _ := m["version"].(string)
	if name == "" || version == "" {
		return packageid.ID{}, refuse(api.CheckManifest, "manifest.yml", "name and version must be non-empty strings, found name %v and version %v", m["name"], m["version"])
	}
	return packageid.ID{Name: name, Version: version}, nil
}

// Paths lists the package's files in zip-entry order (EPR orders a zipped
// package's assets that way).
func (p *Package) Paths() []string {
	out := make([]string, len(p.Files))
	for i, f := range p.Files {
		out[i] = f.Path
	}
	return out
}
