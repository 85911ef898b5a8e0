package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"pkgstore/internal/storage/rawfile"
)

// Tree is a set of objects under one prefix that are written together, such
// as a package's static files.
//
// On file buckets the objects are written in place into a private folder of
// the bucket, and Commit renames that folder to the prefix: readers see no
// object of the tree until every one is complete, then all of them at once,
// and a crash before Commit leaves nothing under the prefix (the private
// folder is removed by a later OpenDir once it is old). Writing in place
// also spares each object gocloud's file driver's temporary file, rename and
// MkdirAll, which dominated the cost of publishing a package's files.
//
// On cloud buckets, which have no folders to rename, each object is written
// to its key when WriteFile returns, as Bucket.WriteFile does.
type Tree struct {
	b      *Bucket
	prefix string // ends with '/'

	// File buckets only.
	tmp   string       // the private folder
	dir   *rawfile.Dir // tmp, open: objects are made relative to it
	final string       // where Commit puts it
	// use is held for reading by WriteFile and for writing by Commit and
	// Discard, which close dir: they wait for the writes in progress.
	// Taken before mu.
	use  sync.RWMutex
	mu   sync.Mutex
	dirs map[string]bool // folders of tmp known to exist, relative to it
	odd  *blob.Bucket    // fileblob over tmp, for keys that need escaping
	done bool
}

// NewTree starts a tree under prefix, which must be a plain key ending with
// '/'. Every tree must end with Commit or Discard.
func (b *Bucket) NewTree(ctx context.Context, prefix string) (*Tree, error) {
	if !strings.HasSuffix(prefix, "/") || !plainKey(strings.TrimSuffix(prefix, "/")) {
		return nil, fmt.Errorf("tree %s: prefix is not a plain folder key", prefix)
	}
	t := &Tree{b: b, prefix: prefix}
	if b.dir == "" {
		return t, nil
	}
	root := filepath.Join(b.dir, tempDir)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("tree %s: %w", prefix, err)
	}
	b.topOnce.Do(func() { markTopDir(root) })
	// 0o777 less the umask, as gocloud's file driver makes folders, so
	// that the renamed folder looks like any other of the bucket.
	tmp, err := createFresh(root, "tree-", "", func(name string) error { return os.Mkdir(name, 0o777) })
	if err != nil {
		return nil, fmt.Errorf("tree %s: %w", prefix, err)
	}
	if t.dir, err = rawfile.OpenDir(tmp); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("tree %s: %w", prefix, err)
	}
	t.tmp = tmp
	t.final = filepath.Join(b.dir, filepath.FromSlash(fileKey(strings.TrimSuffix(prefix, "/"))))
	t.dirs = map[string]bool{".": true}
	return t, nil
}

// createFresh calls create with dir/prefix<random hex>suffix until a name
// does not exist yet, and returns the name create made.
func createFresh(dir, prefix, suffix string, create func(name string) error) (string, error) {
	for range 10 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		name := filepath.Join(dir, prefix+hex.EncodeToString(b[:])+suffix)
		err := create(name)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		return name, err
	}
	return "", errors.New("no free temporary name")
}

// Private reports whether the tree's objects stay invisible until Commit
// (file buckets), so that it may be filled before the writer knows it will
// commit it. File buckets keep no metadata: WriteFile's options are
// ignored there.
func (t *Tree) Private() bool { return t.tmp != "" }

// WriteFile writes prefix+rel from r, overwriting an earlier write of rel.
// It may be called from several goroutines at once. If r fails, the object
// is not written (cloud buckets) or is incomplete in the private folder,
// and the tree must be discarded (file buckets).
func (t *Tree) WriteFile(ctx context.Context, rel string, r io.Reader, opts *blob.WriterOptions) error {
	if t.tmp == "" {
		return t.b.WriteFile(ctx, t.prefix+rel, r, opts)
	}
	key := t.prefix + rel
	t.use.RLock()
	defer t.use.RUnlock()
	if t.dir == nil {
		return fmt.Errorf("write %s: tree %s is closed", key, t.prefix)
	}
	if !plainKey(rel) {
		// Let gocloud's file driver escape the key, relative to the
		// private folder: escaping works segment by segment, so the
		// renamed tree is where the bucket's driver looks for it.
		odd, err := t.escaper()
		if err != nil {
			return fmt.Errorf("write %s: %w", key, err)
		}
		return (&Bucket{Bucket: odd}).WriteFile(ctx, rel, r, opts)
	}
	p := filepath.FromSlash(fileKey(rel))
	if err := t.mkdirAll(filepath.Dir(p)); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	f, err := t.dir.Create(p, 0o666)
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	buf := copyBufs.Get().(*[]byte)
	_, err = rawfile.Copy(f, ctxReader{ctx, r}, *buf)
	copyBufs.Put(buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// mkdirAll makes the folder dir of the tree (relative to it) and its
// missing parents, with a memory of the folders made, so that a tree of N
// files costs one mkdir per folder, not N.
func (t *Tree) mkdirAll(dir string) error {
	t.mu.Lock()
	known := t.dirs[dir]
	t.mu.Unlock()
	if known {
		return nil
	}
	if err := t.mkdirAll(filepath.Dir(dir)); err != nil {
		return err
	}
	// 0o777 less the umask, as gocloud's file driver makes folders.
	if err := t.dir.Mkdir(dir, 0o777); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	t.mu.Lock()
	t.dirs[dir] = true
	t.mu.Unlock()
	return nil
}

func (t *Tree) escaper() (*blob.Bucket, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.odd == nil {
		b, err := fileblob.OpenBucket(t.tmp, &fileblob.Options{Metadata: fileblob.MetadataDontWrite, NoTempDir: true})
		if err != nil {
			return nil, err
		}
		t.odd = b
	}
	return t.odd, nil
}

// Commit makes the tree's objects visible under its prefix. On file
// buckets an earlier tree at the prefix (from an attempt that crashed after
// its Commit) is replaced; the new objects are durable with the bucket's
// next Sync. Commit is a no-op on cloud buckets.
func (t *Tree) Commit(ctx context.Context) error {
	if t.tmp == "" {
		return nil
	}
	t.use.Lock()
	defer t.use.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return fmt.Errorf("tree %s: already committed or discarded", t.prefix)
	}
	t.closeDirs()
	if err := os.MkdirAll(filepath.Dir(t.final), 0o777); err != nil {
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

// Discard drops an uncommitted tree; it is a no-op after Commit.
func (t *Tree) Discard() {
	if t.tmp == "" {
		return
	}
	t.use.Lock()
	defer t.use.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closeDirs()
	if !t.done {
		os.RemoveAll(t.tmp)
		t.done = true
	}
}

// closeDirs closes what the tree holds open on its private folder; t.use
// and t.mu are held.
func (t *Tree) closeDirs() {
	if t.odd != nil {
		t.odd.Close()
		t.odd = nil
	}
	if t.dir != nil {
		t.dir.Close()
		t.dir = nil
	}
}
