package builder

import (
	"archive/zip"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/flate"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/yamldoc"
	"pkgstore/internal/storage/rawfile"
)

// ModTime is the timestamp every entry carries: the MS-DOS epoch, so that
// the same input always gives the same bytes.
var ModTime = time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC)

// Modes of every entry, whatever the source's modes are.
const (
	FileMode fs.FileMode = 0o644
	DirMode  fs.FileMode = 0o755
)

// CompressionLevel is the deflate level. Level 5 of
// github.com/klauspost/compress is about twice as fast as the standard
// library's default for a similar ratio.
const CompressionLevel = 5

// ErrLinkChecksum is returned (wrapped) when a *.link file's checksum does not
// match its target's content.
var ErrLinkChecksum = errors.New("linked file checksum mismatch")

// excludedDirs are never included, at any depth.
var excludedDirs = map[string]bool{"_dev": true, "build": true, ".git": true}

// storedExts are already compressed: deflating them costs time and saves
// nothing, so they are stored as they are.
var storedExts = map[string]bool{
	".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".webp": true, ".ico": true,
	".gz": true, ".tgz": true, ".zip": true, ".bz2": true, ".xz": true, ".zst": true,
	".7z": true, ".rar": true, ".jar": true, ".mp4": true, ".mov": true, ".webm": true,
	".mp3": true, ".ogg": true, ".woff": true, ".woff2": true, ".pdf": true,
}

// excludedFile reports whether a file is editor or OS clutter.
func excludedFile(name string) bool {
	switch {
	case name == ".DS_Store":
		return true
	case strings.HasPrefix(name, ".") && strings.HasSuffix(name, ".swp"):
		return true
	case strings.HasSuffix(name, "~"):
		return true
	}
	return false
}

// Options tune how a directory is archived.
type Options struct {
	// Legacy archives an already built v1 revision: *.link files are kept as
	// they are instead of being resolved (a built package has none; if one
	// is there, it is content).
	Legacy bool
}

// Stats describe a written zip.
type Stats struct {
	Files int   // file entries
	Dirs  int   // directory entries, the root folder included
	Bytes int64 // uncompressed bytes of the file entries
}

// entry is one member of the archive, in archive order.
type entry struct {
	name string // path below the root folder, '/'-separated; dirs end in '/'
	src  string // OS path of the content (files only)
	sum  string // expected sha256 of src (resolved links only)
	link string // OS path of the *.link file (resolved links only)
	data []byte // content set by a build step (mem)
	mem  bool   // content is data, not src
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// ReadManifestID reads name and version from dir/manifest.yml and checks
// their syntax.
func ReadManifestID(dir string) (packageid.ID, error) {
	f, err := os.Open(filepath.Join(dir, "manifest.yml"))
	if err != nil {
		return packageid.ID{}, fmt.Errorf("read manifest: %w", err)
	}
	defer f.Close()
	var m struct {
		Name    string `yaml:"name"`
		Version string `yaml:"version"`
	}
	b, err := io.ReadAll(io.LimitReader(f, 4<<20))
	if err != nil {
		return packageid.ID{}, fmt.Errorf("read manifest: %w", err)
	}
	if err := yamldoc.Unmarshal(b, &m); err != nil {
		return packageid.ID{}, fmt.Errorf("parse %s: %w", filepath.Join(dir, "manifest.yml"), err)
	}
	id := packageid.ID{Name: m.Name, Version: m.Version}
	if err := id.Validate(); err != nil {
		return packageid.ID{}, fmt.Errorf("manifest.yml: %w", err)
	}
	return id, nil
}

// Write archives the package rooted at dir into w as the zip of revision
// id: every entry lies below the root folder "NAME-VERSION/".
func Write(ctx context.Context, w io.Writer, dir string, id packageid.ID, opts Options) (Stats, error) {
	entries, err := list(dir, opts)
	if err != nil {
		return Stats{}, err
	}
	return writeEntries(ctx, w, id.String()+"/", entries)
}

// WriteV1 archives a v1 revision folder packages/NAME/VERSION/ into w. The
// manifest's name and version must equal the folder names. No validation
// is done: v1 revisions predate today's spec.
func WriteV1(ctx context.Context, w io.Writer, dir string) (packageid.ID, Stats, error) {
	id, err := V1ID(dir)
	if err != nil {
		return id, Stats{}, err
	}
	st, err := Write(ctx, w, dir, id, Options{Legacy: true})
	return id, st, err
}

// V1ID returns the revision of a v1 folder packages/NAME/VERSION/, after
// checking that manifest.yml names the same NAME and VERSION.
func V1ID(dir string) (packageid.ID, error) {
	clean := filepath.Clean(dir)
	want := packageid.ID{Name: filepath.Base(filepath.Dir(clean)), Version: filepath.Base(clean)}
	if err := want.Validate(); err != nil {
		return want, fmt.Errorf("folder %s: %w", dir, err)
	}
	got, err := ReadManifestID(dir)
	if err != nil {
		return want, err
	}
	if got != want {
		return want, fmt.Errorf("manifest.yml names %s but the folder is %s/%s", got, want.Name, want.Version)
	}
	return want, nil
}

// Result describes a zip written by Package.
type Result struct {
	ID     packageid.ID
	Path   string // OUTDIR/NAME-VERSION.zip
	Size   int64  // bytes of the zip
	SHA256 string // of the zip, hex
	Stats  Stats
}

// Package builds the source package dir into outDir/NAME-VERSION.zip, NAME
// and VERSION coming from dir/manifest.yml, performing elastic-package's
// build steps (see Steps). The zip is written to a temporary file first and
// renamed into place only when complete.
func Package(ctx context.Context, dir, outDir string, cfg Config) (*Result, error) {
	id, err := ReadManifestID(dir)
	if err != nil {
		return nil, err
	}
	entries, err := list(dir, Options{})
	if err != nil {
		return nil, err
	}
	tree := newTree(entries)
	if err := runSteps(ctx, dir, tree, cfg); err != nil {
		return nil, fmt.Errorf("build %s: %w", id, err)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("create output folder: %w", err)
	}
	dst := filepath.Join(outDir, id.ZipName())
	tmp, err := os.CreateTemp(outDir, "."+id.ZipName()+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create zip: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	bw := bufio.NewWriterSize(tmp, 256<<10)
	sum := sha256.New()
	st, err := writeEntries(ctx, io.MultiWriter(bw, sum), id.String()+"/", tree.entries())
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	var size int64
	if err == nil {
		size, err = tmp.Seek(0, io.SeekCurrent)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", id, err)
	}
	if !cfg.SkipValidation {
		if err := validateZip(ctx, tmp.Name(), id); err != nil {
			return nil, err
		}
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return nil, fmt.Errorf("build %s: %w", id, err)
	}
	return &Result{ID: id, Path: dst, Size: size, SHA256: hex.EncodeToString(sum.Sum(nil)), Stats: st}, nil
}

// list walks dir and returns the archive entries below the root folder, in
// archive order: each directory's children sorted by their name in the
// archive, a directory entry before its children, directories left out when
// nothing below them is included.
func list(dir string, opts Options) ([]entry, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("package folder: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("package folder %s is not a directory", dir)
	}
	var out []entry
	w := walker{opts: opts, repo: FindRepoRoot(dir)}
	if err := w.walk(dir, "", &out); err != nil {
		return nil, err
	}
	return out, nil
}

// walker lists a package folder. repo is the git repository holding it
// ("" when there is none): linked files resolve only inside it, as
// elastic-package resolves them (through an os.Root at the repository).
type walker struct {
	opts Options
	repo string
}

func (w walker) walk(osDir, rel string, out *[]entry) error {
	des, err := os.ReadDir(osDir)
	if err != nil {
		return fmt.Errorf("read folder: %w", err)
	}
	type child struct {
		name string // name in the archive
		de   fs.DirEntry
		link bool
	}
	children := make([]child, 0, len(des))
	seen := make(map[string]string, len(des))
	for _, de := range des {
		name := de.Name()
		if !utf8.ValidString(name) || strings.ContainsAny(name, "\\\x00") {
			return fmt.Errorf("%s: file name must be valid UTF-8 without backslashes", path.Join(rel, name))
		}
		c := child{name: name, de: de}
		if de.IsDir() {
			if excludedDirs[name] {
				continue
			}
		} else {
			if excludedFile(name) {
				continue
			}
			if !w.opts.Legacy && strings.HasSuffix(name, ".link") && name != ".link" {
				c.name = strings.TrimSuffix(name, ".link")
				c.link = true
			}
		}
		if prev, dup := seen[c.name]; dup {
			return fmt.Errorf("%s: both %s and %s give this file", path.Join(rel, c.name), path.Join(rel, prev), path.Join(rel, name))
		}
		seen[c.name] = name
		children = append(children, c)
	}
	sort.Slice(children, func(i, j int) bool { return children[i].name < children[j].name })
	for _, c := range children {
		osPath := filepath.Join(osDir, c.de.Name())
		relName := path.Join(rel, c.name)
		typ := c.de.Type()
		if typ&fs.ModeSymlink != 0 {
			fi, err := os.Stat(osPath)
			if err != nil {
				return fmt.Errorf("%s: %w", relName, err)
			}
			if !fi.Mode().IsRegular() {
				return fmt.Errorf("%s: symbolic link to something other than a regular file", relName)
			}
			typ = 0
		}
		switch {
		case typ.IsDir():
			mark := len(*out)
			*out = append(*out, entry{name: relName + "/"})
			if err := w.walk(osPath, relName, out); err != nil {
				return err
			}
			if len(*out) == mark+1 { // nothing included below: drop it
				*out = (*out)[:mark]
			}
		case !typ.IsRegular():
			return fmt.Errorf("%s: not a regular file (%s)", relName, typ)
		case c.link:
			target, sum, err := readLink(osPath)
			if err == nil {
				err = w.inRepository(target)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", path.Join(rel, c.de.Name()), err)
			}
			*out = append(*out, entry{name: relName, src: target, sum: sum, link: osPath})
		default:
			*out = append(*out, entry{name: relName, src: osPath})
		}
	}
	return nil
}

// ErrLinkOutsideRepository is returned for a linked file whose target is not
// inside the git repository holding the package, or for any linked file of
// a package outside a repository: elastic-package refuses both ("path
// escapes from parent", "locating repository root failed"), and a link
// that reaches anywhere on the machine would let a package source copy
// files its repository does not hold (a home folder's keys) into a zip.
var ErrLinkOutsideRepository = errors.New("linked files must resolve inside the package's git repository")

// inRepository checks that target, symbolic links followed, lies inside
// the repository.
func (w walker) inRepository(target string) error {
	if w.repo == "" {
		return fmt.Errorf("%w: the package is not inside a git repository (no .git folder above it)", ErrLinkOutsideRepository)
	}
	root, err := filepath.EvalSymlinks(w.repo)
	if err != nil {
		return fmt.Errorf("repository root: %w", err)
	}
	real, err := filepath.EvalSymlinks(target)
	if err != nil {
		return fmt.Errorf("link target: %w", err)
	}
	if rel, err := filepath.Rel(root, real); err != nil || !filepath.IsLocal(rel) {
		return fmt.Errorf("%w: link target %s is outside %s", ErrLinkOutsideRepository, real, root)
	}
	return nil
}

// readLink parses a *.link file: its first line is "<target> <sha256 hex>",
// the target relative to the link file's folder.
func readLink(linkPath string) (target, sum string, err error) {
	f, err := os.Open(linkPath)
	if err != nil {
		return "", "", fmt.Errorf("read link: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 64<<10))
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return "", "", fmt.Errorf("read link: %w", err)
		}
		return "", "", errors.New("link file is empty")
	}
	fields := strings.Fields(sc.Text())
	if len(fields) != 2 {
		return "", "", fmt.Errorf("link file's first line must be \"<relative path> <sha256>\", got %q", sc.Text())
	}
	rel, sum := fields[0], strings.ToLower(fields[1])
	if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
		return "", "", fmt.Errorf("link file checksum %q is not a sha256 in hex", fields[1])
	}
	if filepath.IsAbs(rel) {
		return "", "", fmt.Errorf("link target %q must be a relative path", rel)
	}
	target = filepath.Join(filepath.Dir(linkPath), filepath.FromSlash(rel))
	fi, err := os.Stat(target)
	if err != nil {
		return "", "", fmt.Errorf("link target: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", "", fmt.Errorf("link target %s is not a regular file", rel)
	}
	return target, sum, nil
}

// writeEntries writes the zip: root folder, then entries in order.
func writeEntries(ctx context.Context, w io.Writer, root string, entries []entry) (Stats, error) {
	var st Stats
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, newCompressor)
	if err := writeDir(zw, root); err != nil {
		return st, err
	}
	st.Dirs++
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if strings.HasSuffix(e.name, "/") {
			if err := writeDir(zw, root+e.name); err != nil {
				return st, err
			}
			st.Dirs++
			continue
		}
		n, err := writeFile(zw, root+e.name, e, *buf)
		if err != nil {
			return st, fmt.Errorf("%s: %w", e.name, err)
		}
		st.Files++
		st.Bytes += n
	}
	if err := zw.Close(); err != nil {
		return st, fmt.Errorf("finish zip: %w", err)
	}
	return st, nil
}

func writeDir(zw *zip.Writer, name string) error {
	h := &zip.FileHeader{Name: name, Method: zip.Store, Modified: ModTime}
	h.SetMode(fs.ModeDir | DirMode)
	if _, err := zw.CreateHeader(h); err != nil {
		return fmt.Errorf("add %s: %w", name, err)
	}
	return nil
}

func writeFile(zw *zip.Writer, name string, e entry, buf []byte) (int64, error) {
	method := zip.Deflate
	if storedExts[strings.ToLower(path.Ext(name))] {
		method = zip.Store
	}
	if e.mem {
		h := &zip.FileHeader{Name: name, Method: method, Modified: ModTime}
		h.SetMode(FileMode)
		dst, err := zw.CreateHeader(h)
		if err != nil {
			return 0, err
		}
		n, err := dst.Write(e.data)
		return int64(n), err
	}
	// A package has many small files: rawfile spares each the system
	// calls an *os.File costs.
	f, err := rawfile.Open(e.src)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	h := &zip.FileHeader{Name: name, Method: method, Modified: ModTime}
	h.SetMode(FileMode)
	dst, err := zw.CreateHeader(h)
	if err != nil {
		return 0, err
	}
	var src io.Reader = f
	var sum hash.Hash
	if e.sum != "" {
		sum = sha256.New()
		src = io.TeeReader(src, sum)
	}
	n, err := io.CopyBuffer(dst, src, buf)
	if err != nil {
		return n, err
	}
	if sum != nil {
		if got := hex.EncodeToString(sum.Sum(nil)); got != e.sum {
			return n, fmt.Errorf("%w: %s says %s, target %s has %s", ErrLinkChecksum, filepath.Base(e.link), e.sum, e.src, got)
		}
	}
	return n, nil
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 128<<10); return &b }}

var flatePool sync.Pool

// pooledFlate returns its flate.Writer to the pool on Close, so that the
// compressor's large state is reused across entries and zips.
type pooledFlate struct {
	fw *flate.Writer
}

func (p *pooledFlate) Write(b []byte) (int, error) { return p.fw.Write(b) }

func (p *pooledFlate) Close() error {
	err := p.fw.Close()
	flatePool.Put(p.fw)
	p.fw = nil
	return err
}

func newCompressor(w io.Writer) (io.WriteCloser, error) {
	if fw, ok := flatePool.Get().(*flate.Writer); ok {
		fw.Reset(w)
		return &pooledFlate{fw: fw}, nil
	}
	fw, err := flate.NewWriter(w, CompressionLevel)
	if err != nil {
		return nil, err
	}
	return &pooledFlate{fw: fw}, nil
}
