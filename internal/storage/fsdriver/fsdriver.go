// Package fsdriver is the folder backend of package storage: a bucket is a
// folder, each object a plain file at the path gocloud's file driver
// (fileblob) used for its key (see escape.go), with no metadata sidecars,
// so that a web server can serve the public folder as it is and stores
// written by earlier versions read the same.
//
// The driver reads, lists and writes its files itself: create-if-absent
// with link(2), which holds across processes (create.go); staging in
// unnamed O_TMPFILE files (unnamed_linux.go); trees of objects renamed
// into place at once (tree.go); durability with one group-committed
// syncfs(2) per file system (sync.go); writes through bare descriptors
// (package rawfile, write.go).
package fsdriver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"pkgstore/internal/storage/driver"
)

// tempDir is the reserved folder, at the root of a bucket, of staged
// objects' temporary files and of uncommitted trees. No key maps into it.
const tempDir = ".pkgstore-tmp"

// tempName matches the temporary files written beside their targets
// ("<key>.<hex nanoseconds>.tmp", as gocloud's file driver named them):
// listings hide them.
var tempName = regexp.MustCompile(`\.[0-9a-f]{15,16}\.tmp$`)

// Bucket is a folder bucket.
type Bucket struct {
	dir  string // absolute, clean
	root string // dir with a trailing separator: root+rel is a path

	topOnce sync.Once

	unnamedOnce sync.Once
	unnamed     bool // staged objects are unnamed files
}

var (
	_ driver.Bucket     = (*Bucket)(nil)
	_ driver.SyncSharer = (*Bucket)(nil)
)

// Open opens the folder dir as a bucket, creating it if needed, and
// removes the temporary files that crashed writers left there long ago.
// A dir that is not a folder, or that cannot be read, is an error.
func Open(dir string) (*Bucket, error) { return open(dir, true) }

// OpenExisting opens the folder dir as a bucket without creating it: a
// folder that does not exist is an error matching fs.ErrNotExist ("folder
// does not exist"). It changes nothing in the folder (no clean-up of
// temporary files): for commands that only read a store and replicas,
// which must not invent an empty store where a path is wrong.
func OpenExisting(dir string) (*Bucket, error) { return open(dir, false) }

// errNoFolder is the error of OpenExisting on a folder that does not exist.
type errNoFolder struct{}

func (errNoFolder) Error() string        { return "folder does not exist" }
func (errNoFolder) Is(target error) bool { return target == fs.ErrNotExist }

func open(dir string, create bool) (*Bucket, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open bucket dir %s: %w", dir, err)
	}
	if fi, err := os.Stat(abs); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("open bucket dir %s: not a folder", dir)
	}
	if create {
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, fmt.Errorf("open bucket dir %s: %w", dir, err)
		}
	}
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("open bucket dir %s: %w", dir, errNoFolder{})
	case err != nil:
		return nil, fmt.Errorf("open bucket dir %s: %w", dir, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("open bucket dir %s: not a folder", dir)
	}
	// A folder that cannot be listed would serve as an empty store.
	f, err := os.Open(abs)
	if err == nil {
		_, err = f.Readdirnames(1)
		f.Close()
		if err == io.EOF {
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open bucket dir %s: cannot read it: %w", dir, err)
	}
	root := abs
	if !strings.HasSuffix(root, string(filepath.Separator)) {
		root += string(filepath.Separator)
	}
	if create {
		cleanTemp(abs)
	}
	return &Bucket{dir: abs, root: root}, nil
}

// ErrFolderGone is wrapped by the errors of a bucket whose folder was
// removed while it was open (rm -rf of --data under a running serve):
// its listings fail (so /health reports it) and its writes fail rather
// than create the folder anew, as an empty store nobody asked for.
var ErrFolderGone = errors.New("bucket folder no longer exists (removed while the store runs?)")

// gone reports, as an error, that the bucket's folder no longer exists.
func (b *Bucket) gone() error {
	if _, err := os.Stat(b.dir); errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%s: %w", b.dir, ErrFolderGone)
	}
	return nil
}

// mkdirAll makes dir, inside the bucket, and its parents, but never the
// bucket's own folder: a folder removed under a running store stays
// removed. (A removal between the check and the mkdir can still be
// undone; the next check then sees an empty folder, not a missing one.)
func (b *Bucket) mkdirAll(dir string, perm fs.FileMode) error {
	if err := b.gone(); err != nil {
		return err
	}
	return os.MkdirAll(dir, perm)
}

// Dir returns the bucket's folder.
func (b *Bucket) Dir() string { return b.dir }

// path returns the file of key.
func (b *Bucket) path(key string) (string, error) {
	rel, err := relPath(key)
	if err != nil {
		return "", err
	}
	return b.root + filepath.FromSlash(rel), nil
}

// keyErr wraps err of op on key.
func keyErr(op, key string, err error) error {
	return fmt.Errorf("%s %s: %w", op, key, err)
}

// notFile is the error of a key whose path is a folder: no object.
func notFile(p string) error {
	return &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
}

// absentErr wraps err of op (a read, stat or delete) on key. A key under
// an object's key ("x.md/y" beside the object "x.md") is an absent key, as
// on cloud buckets, where keys are only names: the file system's ENOTDIR
// becomes ErrNotExist.
func absentErr(op, key string, err error) error {
	if pe, ok := err.(*fs.PathError); ok && errors.Is(err, syscall.ENOTDIR) {
		err = &fs.PathError{Op: pe.Op, Path: pe.Path, Err: fs.ErrNotExist}
	}
	return keyErr(op, key, err)
}

// reader reads a file.
type reader struct {
	f      *os.File
	size   int64
	mod    time.Time
	remain int64 // bytes left of a range; < 0: to the end
}

func (r *reader) Read(p []byte) (int, error) {
	if r.remain < 0 {
		return r.f.Read(p)
	}
	if r.remain == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n, err := r.f.Read(p)
	r.remain -= int64(n)
	return n, err
}

func (r *reader) Seek(off int64, whence int) (int64, error) {
	if r.remain >= 0 {
		return 0, errors.New("fsdriver: seek on a range reader")
	}
	return r.f.Seek(off, whence)
}

func (r *reader) Close() error       { return r.f.Close() }
func (r *reader) Size() int64        { return r.size }
func (r *reader) ModTime() time.Time { return r.mod }

// NewRangeReader implements driver.Bucket.
func (b *Bucket) NewRangeReader(ctx context.Context, key string, offset, length int64) (driver.Reader, error) {
	p, err := b.path(key)
	if err != nil {
		return nil, absentErr("read", key, err)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, absentErr("read", key, err)
	}
	fi, err := f.Stat()
	if err == nil && fi.IsDir() {
		err = notFile(p)
	}
	if err == nil && offset > 0 {
		_, err = f.Seek(offset, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, absentErr("read", key, err)
	}
	return &reader{f: f, size: fi.Size(), mod: fi.ModTime(), remain: length}, nil
}

// ReadAll implements driver.Bucket.
func (b *Bucket) ReadAll(ctx context.Context, key string) ([]byte, error) {
	p, err := b.path(key)
	if err != nil {
		return nil, absentErr("read", key, err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, syscall.EISDIR) {
			err = notFile(p)
		}
		return nil, absentErr("read", key, err)
	}
	return data, nil
}

// Attributes implements driver.Bucket.
func (b *Bucket) Attributes(ctx context.Context, key string) (*driver.Attributes, error) {
	p, err := b.path(key)
	if err != nil {
		return nil, absentErr("stat", key, err)
	}
	fi, err := os.Stat(p)
	if err == nil && fi.IsDir() {
		err = notFile(p)
	}
	if err != nil {
		return nil, absentErr("stat", key, err)
	}
	return &driver.Attributes{Size: fi.Size(), ModTime: fi.ModTime(), ContentType: "application/octet-stream"}, nil
}

// Delete implements driver.Bucket.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	p, err := b.path(key)
	if err != nil {
		return absentErr("delete", key, err)
	}
	if err := os.Remove(p); err != nil {
		return absentErr("delete", key, err)
	}
	return nil
}

// DeletePrefix implements driver.Bucket: it also removes the folders left
// empty under prefix, so that the tree stays a plain mirror of the keys.
func (b *Bucket) DeletePrefix(ctx context.Context, prefix string) error {
	err := driver.DeleteListed(ctx, b, prefix)
	if dirKey, ok := strings.CutSuffix(prefix, "/"); ok {
		if rel, err := relPath(dirKey); err == nil {
			removeEmptyTree(b.root + filepath.FromSlash(rel))
		}
	}
	return err
}

// removeEmptyTree removes the empty folders under dir, and dir if it ends
// up empty, deepest first. It never touches dir's parents: another writer
// may be creating a sibling there right now (MkdirAll, then create).
func removeEmptyTree(dir string) {
	var dirs []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i]) // fails, harmlessly, when not empty
	}
}

// OpenLocal implements driver.Bucket.
func (b *Bucket) OpenLocal(key string) (*os.File, error) {
	p, err := b.path(key)
	if err != nil {
		return nil, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, absentErr("open", key, err)
	}
	return f, nil
}

// Close implements driver.Bucket; a folder holds nothing open.
func (b *Bucket) Close() error { return nil }

// cleanTemp removes the temporary files and trees a crashed process left
// behind. Only old ones: another process may be writing a young one right
// now.
func cleanTemp(dir string) {
	ents, err := os.ReadDir(filepath.Join(dir, tempDir))
	if err != nil {
		return
	}
	for _, e := range ents {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Hour {
			os.RemoveAll(filepath.Join(dir, tempDir, e.Name()))
		}
	}
}

// List implements driver.Bucket. It reads only the folders that can hold
// keys under opts.Prefix (with the "/" delimiter, only the prefix's own
// folder and, to tell empty sub-folders from prefixes, the first entries
// of each sub-folder); it hides temporary files, metadata sidecars and the
// reserved folder, and skips files and folders that vanish while it reads.
// With KeysOnly it stats no file and looks into no sub-folder.
func (b *Bucket) List(ctx context.Context, opts *driver.ListOptions) ([]driver.Object, error) {
	var o driver.ListOptions
	if opts != nil {
		o = *opts
	}
	if !utf8.ValidString(o.Prefix) {
		return nil, fmt.Errorf("list %s: %w", o.Prefix, errBadKey)
	}
	// A missing folder lists as empty, which is what a removed bucket
	// folder would look like: say so instead.
	if err := b.gone(); err != nil {
		return nil, fmt.Errorf("list %s: %w", o.Prefix, err)
	}
	l := lister{b: b, opts: o}
	// Start in the folder of the prefix's last '/', when it maps to one.
	start, startKey := b.dir, ""
	if i := strings.LastIndex(o.Prefix, "/"); i > 0 {
		if rel, err := relPath(o.Prefix[:i]); err == nil {
			start, startKey = b.root+filepath.FromSlash(rel), o.Prefix[:i+1]
		}
	}
	if err := l.walk(ctx, start, startKey); err != nil {
		return nil, fmt.Errorf("list %s: %w", o.Prefix, err)
	}
	slices.SortFunc(l.out, func(a, b driver.Object) int { return strings.Compare(a.Key, b.Key) })
	if o.Delimiter != "" {
		// Escaped names can collapse into one prefix from two folders.
		out := l.out[:0]
		for i, obj := range l.out {
			if i > 0 && obj.IsDir && out[len(out)-1].IsDir && out[len(out)-1].Key == obj.Key {
				continue
			}
			out = append(out, obj)
		}
		l.out = out
	}
	return l.out, nil
}

type lister struct {
	b    *Bucket
	opts driver.ListOptions
	out  []driver.Object
}

// walk lists the folder dir, whose keys start with dirKey.
func (l *lister) walk(ctx context.Context, dir, dirKey string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil // vanished, or not a folder
		}
		return err
	}
	prefix, delim := l.opts.Prefix, l.opts.Delimiter
	for _, e := range ents {
		name := e.Name()
		if dir == l.b.dir && name == tempDir {
			continue
		}
		key := dirKey + unescapeKey(name)
		if e.IsDir() {
			sub := key + "/"
			if !strings.HasPrefix(sub, prefix) && !strings.HasPrefix(prefix, sub) {
				continue
			}
			if delim == "/" && strings.HasPrefix(sub, prefix) {
				rest := sub[len(prefix):]
				if l.opts.KeysOnly || l.hasObject(filepath.Join(dir, name)) {
					l.out = append(l.out, driver.Object{Key: prefix + rest[:strings.Index(rest, "/")+1], IsDir: true})
				}
				continue
			}
			if err := l.walk(ctx, filepath.Join(dir, name), sub); err != nil {
				return err
			}
			continue
		}
		if !strings.HasPrefix(key, prefix) || tempName.MatchString(name) {
			continue
		}
		if delim != "" {
			if i := strings.Index(key[len(prefix):], delim); i >= 0 {
				l.out = append(l.out, driver.Object{Key: key[:len(prefix)+i+len(delim)], IsDir: true})
				continue
			}
		}
		if l.opts.KeysOnly {
			l.out = append(l.out, driver.Object{Key: key})
			continue
		}
		fi, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed since the folder was read
			}
			return err
		}
		l.out = append(l.out, driver.Object{Key: key, Size: fi.Size(), ModTime: fi.ModTime()})
	}
	return nil
}

// hasObject reports whether the folder dir holds an object, at any depth.
func (l *lister) hasObject(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	for {
		ents, err := f.ReadDir(64)
		for _, e := range ents {
			name := e.Name()
			switch {
			case e.IsDir():
				if l.opts.KeysOnly || l.hasObject(filepath.Join(dir, name)) {
					return true
				}
			case !tempName.MatchString(name):
				return true
			}
		}
		if err != nil {
			return false
		}
	}
}
