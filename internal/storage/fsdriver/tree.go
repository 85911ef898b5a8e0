package fsdriver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"pkgstore/internal/storage/driver"
	"pkgstore/internal/storage/rawfile"
)

// tree is a set of objects under one prefix that appear together, such as
// a package's static files.
//
// The objects are written in place into a private folder of the bucket,
// and Commit renames that folder to the prefix: readers see no object of
// the tree until every one is complete, then all of them at once, and a
// crash before Commit leaves nothing under the prefix (the private folder
// is removed by a later Open once it is old). Writing in place also spares
// each object a temporary file, a rename and a MkdirAll, which dominated
// the cost of publishing a package's files.
type tree struct {
	b      *Bucket
	prefix string // ends with '/'
	esc    string // relPath of prefix, with its '/'

	tmp   string       // the private folder
	dir   *rawfile.Dir // tmp, open: objects are made relative to it
	final string       // where Commit puts it
	// use is held for reading by WriteFile and for writing by Commit and
	// Discard, which close dir: they wait for the writes in progress.
	// Taken before mu.
	use  sync.RWMutex
	mu   sync.Mutex
	dirs map[string]bool // folders of tmp known to exist, relative to it
	done bool
}

// NewTree implements driver.Bucket.
func (b *Bucket) NewTree(ctx context.Context, prefix string) (driver.Tree, error) {
	dirKey, ok := strings.CutSuffix(prefix, "/")
	if !ok {
		return nil, fmt.Errorf("tree %s: prefix is not a folder key", prefix)
	}
	rel, err := relPath(dirKey)
	if err != nil {
		return nil, fmt.Errorf("tree %s: %w", prefix, err)
	}
	t := &tree{b: b, prefix: prefix, esc: rel + "/"}
	root := filepath.Join(b.dir, tempDir)
	if err := b.mkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("tree %s: %w", prefix, err)
	}
	b.topOnce.Do(func() { markTopDir(root) })
	// 0o777 less the umask, as every folder of the bucket.
	tmp, err := createFresh(root, "tree-", "", func(name string) error { return os.Mkdir(name, 0o777) })
	if err != nil {
		return nil, fmt.Errorf("tree %s: %w", prefix, err)
	}
	if t.dir, err = rawfile.OpenDir(tmp); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("tree %s: %w", prefix, err)
	}
	t.tmp = tmp
	t.final = b.root + filepath.FromSlash(rel)
	t.dirs = map[string]bool{".": true}
	return t, nil
}

// Private implements driver.Tree: the objects stay invisible until Commit.
func (t *tree) Private() bool { return true }

// WriteFile implements driver.Tree: it writes prefix+rel from r,
// overwriting an earlier write of rel. If r fails, the object is
// incomplete in the private folder and the tree must be discarded.
func (t *tree) WriteFile(ctx context.Context, rel string, r io.Reader, _ *driver.WriterOptions) error {
	key := t.prefix + rel
	p, err := t.relPath(key)
	if err != nil {
		return keyErr("write", key, err)
	}
	t.use.RLock()
	defer t.use.RUnlock()
	if t.dir == nil {
		return fmt.Errorf("write %s: tree %s is closed", key, t.prefix)
	}
	if err := t.mkdirAll(filepath.Dir(p)); err != nil {
		return keyErr("write", key, err)
	}
	f, err := t.dir.Create(p, 0o666)
	if err != nil {
		return keyErr("write", key, err)
	}
	buf := copyBufs.Get().(*[]byte)
	_, err = rawfile.Copy(f, ctxReader{ctx, r}, *buf)
	copyBufs.Put(buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return keyErr("write", key, err)
	}
	return nil
}

// relPath returns the path of key relative to the tree's folder: its
// path in the bucket less the prefix's (escaping never crosses a '/', so
// the renamed tree is where the bucket reads its keys).
func (t *tree) relPath(key string) (string, error) {
	p, err := relPath(key)
	if err != nil {
		return "", err
	}
	rel, ok := strings.CutPrefix(p, t.esc)
	if !ok || rel == "" {
		return "", errBadKey
	}
	return filepath.FromSlash(rel), nil
}

// mkdirAll makes the folder dir of the tree (relative to it) and its
// missing parents, with a memory of the folders made, so that a tree of N
// files costs one mkdir per folder, not N.
func (t *tree) mkdirAll(dir string) error {
	t.mu.Lock()
	known := t.dirs[dir]
	t.mu.Unlock()
	if known {
		return nil
	}
	if err := t.mkdirAll(filepath.Dir(dir)); err != nil {
		return err
	}
	// 0o777 less the umask, as every folder of the bucket.
	if err := t.dir.Mkdir(dir, 0o777); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	t.mu.Lock()
	t.dirs[dir] = true
	t.mu.Unlock()
	return nil
}

// Commit implements driver.Tree. An earlier tree at the prefix (from an
// attempt that crashed after its Commit) is replaced; the new objects are
// durable with the bucket's next Sync.
func (t *tree) Commit(ctx context.Context) error {
	t.use.Lock()
	defer t.use.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return fmt.Errorf("tree %s: already committed or discarded", t.prefix)
	}
	t.closeDir()
	if err := t.b.mkdirAll(filepath.Dir(t.final), 0o777); err != nil {
		return fmt.Errorf("tree %s: %w", t.prefix, err)
	}
	err := os.Rename(t.tmp, t.final)
	// A non-empty folder at the target fails with EEXIST or ENOTEMPTY,
	// both os.ErrExist.
	if err != nil && errors.Is(err, os.ErrExist) {
		// Move the old tree aside, then put the new one in its place.
		old := t.tmp + "-old"
		if err := os.Rename(t.final, old); err != nil {
			return fmt.Errorf("tree %s: replace: %w", t.prefix, err)
		}
		err = os.Rename(t.tmp, t.final)
		os.RemoveAll(old)
	}
	if err != nil {
		return fmt.Errorf("tree %s: %w", t.prefix, err)
	}
	t.done = true
	return nil
}

// Discard implements driver.Tree.
func (t *tree) Discard() {
	t.use.Lock()
	defer t.use.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closeDir()
	if !t.done {
		os.RemoveAll(t.tmp)
		t.done = true
	}
}

// closeDir closes the private folder; t.use and t.mu are held.
func (t *tree) closeDir() {
	if t.dir != nil {
		t.dir.Close()
		t.dir = nil
	}
}
