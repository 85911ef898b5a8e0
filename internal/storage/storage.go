package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"pkgstore/internal/storage/blobdriver"
	"pkgstore/internal/storage/driver"
	"pkgstore/internal/storage/fsdriver"
)

// ErrNotExist is matched (errors.Is) by the error of an operation on a key
// that holds no object; it is fs.ErrNotExist.
var ErrNotExist = driver.ErrNotExist

// ErrExists is matched by the error of CreateIfAbsent (and of a Staged
// Commit) when the key already exists.
var ErrExists = driver.ErrExists

// IsNotFound reports whether err means the object does not exist; it is
// errors.Is(err, ErrNotExist).
func IsNotFound(err error) bool { return errors.Is(err, ErrNotExist) }

// WriterOptions are the options of a write: the content type stored with
// the object on cloud buckets, the chunk size of cloud uploads. Folders
// keep no metadata.
type WriterOptions = driver.WriterOptions

// ListOptions select the objects of a listing: a key prefix and, with
// Delimiter "/", one level of it.
type ListOptions = driver.ListOptions

// Object is one entry of a listing.
type Object = driver.Object

// Attributes describe an object: size, modification time, content type.
type Attributes = driver.Attributes

// Reader reads an object: io.ReadSeekCloser (whole objects seek), plus
// the object's Size and ModTime.
type Reader = driver.Reader

// Writer writes an object that appears under its key at Close; Abort
// drops it instead.
type Writer = driver.Writer

// Config says where the two buckets are. URLs win over DataDir.
type Config struct {
	DataDir     string // DIR/public and DIR/internal, used when a URL is empty
	PublicURL   string // a bucket URL: file://, gs://, s3://, azblob://, mem://
	InternalURL string
	// MustExist opens folders (DataDir, file:// URLs) only if they exist,
	// never creating one, for commands that read a store and read-only
	// replicas (and `pkgstore index`): a wrong path is an error, not an
	// empty store.
	MustExist bool
}

// Buckets is the pair the whole system works on.
type Buckets struct {
	Public   *Bucket
	Internal *Bucket
}

// Close closes both buckets.
func (b *Buckets) Close() error {
	return errors.Join(b.Public.Close(), b.Internal.Close())
}

// Sync makes everything written to both buckets before the call durable
// (one syncfs when they share a file system, as under --data).
func (b *Buckets) Sync(ctx context.Context) error {
	if err := b.Public.Sync(ctx); err != nil {
		return err
	}
	if s, ok := b.Public.drv.(driver.SyncSharer); ok && s.SharesSync(b.Internal.drv) {
		return nil
	}
	return b.Internal.Sync(ctx)
}

// Bucket is a bucket of either backend: folders (package fsdriver) or
// cloud buckets (package blobdriver). Its methods are safe for concurrent
// use; the errors of operations on absent keys match ErrNotExist.
type Bucket struct {
	drv driver.Bucket
}

// NewBucket wraps a driver.
func NewBucket(d driver.Bucket) *Bucket { return &Bucket{drv: d} }

// Driver returns the driver behind b, for driver-specific tests.
func (b *Bucket) Driver() driver.Bucket { return b.drv }

// Open opens both buckets described by cfg.
func Open(ctx context.Context, cfg Config) (*Buckets, error) {
	pub, err := openOne(ctx, cfg.PublicURL, cfg.DataDir, "public", cfg.MustExist)
	if err != nil {
		return nil, err
	}
	internal, err := openOne(ctx, cfg.InternalURL, cfg.DataDir, "internal", cfg.MustExist)
	if err != nil {
		pub.Close()
		return nil, err
	}
	return &Buckets{Public: pub, Internal: internal}, nil
}

func openOne(ctx context.Context, rawURL, dataDir, sub string, mustExist bool) (*Bucket, error) {
	if rawURL == "" {
		if dataDir == "" {
			return nil, fmt.Errorf("%s bucket: neither a bucket URL nor a data directory was given", sub)
		}
		b, err := openDir(filepath.Join(dataDir, sub), mustExist)
		if err != nil {
			return nil, &openError{fmt.Errorf("%s bucket: %w", sub, err)}
		}
		return b, nil
	}
	b, err := openURL(ctx, rawURL, mustExist)
	if err != nil {
		return nil, &openError{fmt.Errorf("%s bucket: %w", sub, err)}
	}
	return b, nil
}

// ErrOpen marks a bucket that could not be opened (a folder that does not
// exist, a URL whose bucket does not answer): commands exit 5 on it.
var ErrOpen = errors.New("bucket cannot be opened")

// openError is a failure of Open, OpenInternal: its message is the
// cause's, and errors.Is finds both the cause and ErrOpen.
type openError struct{ err error }

func (e *openError) Error() string   { return e.err.Error() }
func (e *openError) Unwrap() []error { return []error{e.err, ErrOpen} }

// OpenDir opens a folder as a bucket, creating it if needed. No metadata
// sidecar files are written, so the folder is a plain mirror of the keys
// (a web server can serve the public one as it is).
func OpenDir(dir string) (*Bucket, error) { return openDir(dir, false) }

// OpenDirExisting is OpenDir of a folder that must exist: it creates
// nothing, and a missing folder is an error matching ErrNotExist.
func OpenDirExisting(dir string) (*Bucket, error) { return openDir(dir, true) }

func openDir(dir string, mustExist bool) (*Bucket, error) {
	open := fsdriver.Open
	if mustExist {
		open = fsdriver.OpenExisting
	}
	d, err := open(dir)
	if err != nil {
		return nil, err
	}
	return &Bucket{drv: d}, nil
}

// OpenURL opens a bucket URL. file:// URLs open the folder as OpenDir
// does (and take no query parameters); gs://, s3://, azblob:// and mem://
// open cloud buckets through gocloud.dev.
func OpenURL(ctx context.Context, rawURL string) (*Bucket, error) {
	return openURL(ctx, rawURL, false)
}

func openURL(ctx context.Context, rawURL string, mustExist bool) (*Bucket, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse bucket URL %q: %w", rawURL, err)
	}
	if u.Scheme == "file" {
		if len(u.Query()) > 0 {
			return nil, fmt.Errorf("open bucket %q: file bucket URLs take no query parameters", rawURL)
		}
		return openDir(filepath.FromSlash(u.Path), mustExist)
	}
	d, err := blobdriver.Open(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("open bucket %q: %w", rawURL, err)
	}
	return &Bucket{drv: d}, nil
}

// Close releases the bucket.
func (b *Bucket) Close() error { return b.drv.Close() }

// NewReader reads key.
func (b *Bucket) NewReader(ctx context.Context, key string) (Reader, error) {
	return b.drv.NewRangeReader(ctx, key, 0, -1)
}

// NewRangeReader reads length bytes of key from offset (length < 0: to
// the end).
func (b *Bucket) NewRangeReader(ctx context.Context, key string, offset, length int64) (Reader, error) {
	return b.drv.NewRangeReader(ctx, key, offset, length)
}

// ReadAll returns the bytes of key.
func (b *Bucket) ReadAll(ctx context.Context, key string) ([]byte, error) {
	return b.drv.ReadAll(ctx, key)
}

// Attributes returns key's attributes.
func (b *Bucket) Attributes(ctx context.Context, key string) (*Attributes, error) {
	return b.drv.Attributes(ctx, key)
}

// Exists reports whether key holds an object.
func (b *Bucket) Exists(ctx context.Context, key string) (bool, error) {
	_, err := b.drv.Attributes(ctx, key)
	switch {
	case err == nil:
		return true, nil
	case IsNotFound(err):
		return false, nil
	}
	return false, err
}

// NewWriter starts a write of key: the object appears, replacing any
// earlier one, at the Writer's Close; Abort (or cancelling ctx) before
// Close discards it.
func (b *Bucket) NewWriter(ctx context.Context, key string, opts *WriterOptions) (Writer, error) {
	return b.drv.NewWriter(ctx, key, opts)
}

// WriteAll writes key with p, replacing it.
func (b *Bucket) WriteAll(ctx context.Context, key string, p []byte, opts *WriterOptions) error {
	return b.drv.WriteAll(ctx, key, p, opts)
}

// WriteFile writes key from r, replacing it; if r fails, or ctx is done,
// nothing is written.
func (b *Bucket) WriteFile(ctx context.Context, key string, r io.Reader, opts *WriterOptions) error {
	return b.drv.WriteFrom(ctx, key, r, opts)
}

// CreateIfAbsent writes key from r only if no object has that key,
// atomically with respect to every other writer (other goroutines,
// processes and, on cloud buckets, machines); otherwise it fails with
// ErrExists. Folders publish the object with link(2), which fails if the
// target exists; cloud buckets use their native precondition (GCS
// ifGenerationMatch=0, S3 and Azure If-None-Match: *). The object is
// durable on return.
func (b *Bucket) CreateIfAbsent(ctx context.Context, key string, r io.Reader, opts *WriterOptions) error {
	return b.drv.Create(ctx, key, r, opts, true)
}

// CreateIfAbsentNoSync is CreateIfAbsent without the durability of the
// object on return on folders: its bytes and its name reach the disk with
// the next Sync of the bucket (or whenever the kernel writes them back).
// For records written on the way to a commit point that ends with a Sync
// (a publication), where one Sync shared by everything beats an fsync per
// object. Cloud buckets are durable on return either way.
func (b *Bucket) CreateIfAbsentNoSync(ctx context.Context, key string, r io.Reader, opts *WriterOptions) error {
	return b.drv.Create(ctx, key, r, opts, false)
}

// Staged is an object written but not yet visible under its key: Commit
// makes it visible if the key is still absent (ErrExists otherwise),
// Discard drops it. On folders the bytes sit in a file of the bucket, so a
// Sync between Stage and Commit makes them durable before anyone can see
// the object (a publication's zip, its commit point). On cloud buckets the
// reader is kept and sent by Commit (create-if-absent), which is durable
// on return.
type Staged = driver.Staged

// Stage prepares key from r; see Staged. On cloud buckets r is read by
// Commit, not by Stage, and must stay readable until then.
func (b *Bucket) Stage(ctx context.Context, key string, r io.Reader, opts *WriterOptions) (Staged, error) {
	return b.drv.Stage(ctx, key, r, opts)
}

// StageFile is Stage of the first size bytes of f. On a folder of the
// same file system as f (a zip read in place with OpenLocal from the
// internal bucket, under --data), the staged object is a hard link to f's
// file, not a copy. f's file must hold exactly size bytes and never change
// afterwards.
func (b *Bucket) StageFile(ctx context.Context, key string, f *os.File, size int64, opts *WriterOptions) (Staged, error) {
	return b.drv.StageFile(ctx, key, f, size, opts)
}

// Tree is a set of objects under one prefix that are written together,
// such as a package's static files. On folders they are written into a
// private folder that Commit renames to the prefix: readers see none of
// them until every one is complete, then all at once, and a crash before
// Commit leaves nothing under the prefix (Private reports true). On cloud
// buckets each object is written to its key when WriteFile returns and
// Commit does nothing. Every tree must end with Commit or Discard.
type Tree = driver.Tree

// NewTree starts a tree under prefix, a key ending with '/'.
func (b *Bucket) NewTree(ctx context.Context, prefix string) (Tree, error) {
	return b.drv.NewTree(ctx, prefix)
}

// ListAll returns every object selected by opts (nil: all), sorted by key.
// On folders it hides writers' temporary files and survives files that
// vanish while it reads.
func (b *Bucket) ListAll(ctx context.Context, opts *ListOptions) ([]Object, error) {
	return b.drv.List(ctx, opts)
}

// ListLevel returns the keys of the objects directly under prefix (which
// ends in "/") and the sub-prefixes one level down (ending in "/"): a
// listing with the "/" delimiter. On folders it reads the one folder, so
// it costs what the folder holds, not what the tree below it holds, and an
// empty sub-folder (left by a crash) may show as a prefix.
func (b *Bucket) ListLevel(ctx context.Context, prefix string) (keys, dirs []string, err error) {
	objs, err := b.drv.List(ctx, &ListOptions{Prefix: prefix, Delimiter: "/", KeysOnly: true})
	if err != nil {
		return nil, nil, err
	}
	for _, o := range objs {
		if o.IsDir {
			dirs = append(dirs, o.Key)
		} else {
			keys = append(keys, o.Key)
		}
	}
	return keys, dirs, nil
}

// Delete deletes key.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	return b.drv.Delete(ctx, key)
}

// DeletePrefix deletes every object under prefix. On folders it also
// removes the folders left empty, so the tree stays a plain mirror of the
// keys.
func (b *Bucket) DeletePrefix(ctx context.Context, prefix string) error {
	return b.drv.DeletePrefix(ctx, prefix)
}

// Sync returns once everything written to the bucket before the call is
// durable: a group-committed syncfs(2) of its file system on folders;
// nothing on cloud buckets, durable on return.
func (b *Bucket) Sync(ctx context.Context) error { return b.drv.Sync(ctx) }

// OpenLocal opens the file that holds key on a folder, for callers that
// would otherwise copy the object to a local file of their own: a
// publication reads its queued zip in place, and StageFile can then link
// it instead of copying it. It returns (nil, nil) on cloud buckets;
// IsNotFound(err) when key is absent. Only for objects that are never
// rewritten while read (written once, deleted after).
func (b *Bucket) OpenLocal(key string) (*os.File, error) { return b.drv.OpenLocal(key) }

// RemoveStaleTemp removes what writers that died mid-write left under
// prefix (a key ending with '/'): on folders, the temporary files beside
// their keys last modified before cutoff, which listings hide and so no
// DeletePrefix removes, and the folders that leaves empty; at most max
// files a call. Cloud buckets have none (an interrupted upload never
// becomes an object): it does nothing there. It returns the paths removed.
func (b *Bucket) RemoveStaleTemp(ctx context.Context, prefix string, cutoff time.Time, max int) ([]string, error) {
	r, ok := b.drv.(driver.TempRemover)
	if !ok {
		return nil, nil
	}
	return r.RemoveStaleTemp(ctx, prefix, cutoff, max)
}

// OpenInternal opens only the internal bucket of cfg (an InternalURL, or
// DataDir/internal), for a client that writes the publishing queue with
// that bucket's own credentials and has none for the public one.
func OpenInternal(ctx context.Context, cfg Config) (*Bucket, error) {
	return openOne(ctx, cfg.InternalURL, cfg.DataDir, "internal", cfg.MustExist)
}
