// Package driver defines the contract between package storage's portable
// *storage.Bucket and the backends behind it (fsdriver: folders;
// blobdriver: GCS, S3, Azure and memory through gocloud.dev), as gocloud's
// blob/driver does for its portable type.
//
// A driver implements every operation in its own terms: a folder publishes
// a create-if-absent object with link(2) and a tree with rename(2), a cloud
// bucket with a native precondition and one object at a time. The portable
// type adds nothing but conveniences and error context, so a driver must
// itself return errors that match the sentinels below.
//
// Package driver imports only the standard library.
package driver

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"time"
)

// ErrNotExist is matched (errors.Is) by the error of every operation on a
// key that holds no object. It is fs.ErrNotExist, so that the errors of the
// file system match it as they are.
var ErrNotExist = fs.ErrNotExist

// ErrExists is matched by the error of a create-if-absent (Create, Staged
// Commit) whose key already holds an object.
var ErrExists = errors.New("object already exists")

// WriterOptions are the options of a write. Folders keep no metadata and
// ignore them.
type WriterOptions struct {
	// ContentType is stored with the object on cloud buckets.
	ContentType string
	// BufferSize is the size of the chunks a cloud upload sends (0: the
	// driver's default).
	BufferSize int
}

// ListOptions select the objects of a listing.
type ListOptions struct {
	// Prefix selects the keys that start with it.
	Prefix string
	// Delimiter, if set ("/" is the only one callers use), collapses the
	// keys that hold it after Prefix into one Object with IsDir set, whose
	// Key ends at the delimiter.
	Delimiter string
	// KeysOnly says the caller reads only the keys: a driver may leave
	// Size and ModTime zero and, with a Delimiter, report a prefix without
	// checking that it holds an object (a folder driver then reads one
	// folder and nothing else, as ListLevel wants).
	KeysOnly bool
}

// Object is one entry of a listing.
type Object struct {
	Key     string
	Size    int64
	ModTime time.Time
	IsDir   bool // a collapsed prefix of a listing with a Delimiter
}

// Attributes describe an object.
type Attributes struct {
	Size    int64
	ModTime time.Time
	// ContentType is the type stored with the object; folders store none
	// and report "application/octet-stream", as gocloud's file driver did.
	ContentType string
}

// Reader reads an object. Seek is supported on readers of whole objects
// (what http.ServeContent needs); Size and ModTime are the object's.
type Reader interface {
	io.ReadSeekCloser
	Size() int64
	ModTime() time.Time
}

// Writer writes an object that appears under its key, replacing any
// earlier one, at Close. Abort drops what was written instead; after
// Close or Abort the Writer is done.
type Writer interface {
	io.Writer
	Close() error
	Abort()
}

// Staged is an object written but not yet visible: Commit makes it
// visible if its key is still absent (ErrExists otherwise), Discard drops
// it. Discard after Commit does nothing.
type Staged interface {
	Commit(ctx context.Context) error
	Discard()
}

// Tree is a set of objects under one prefix that appear together.
type Tree interface {
	// Private reports whether the objects stay invisible until Commit.
	Private() bool
	// WriteFile writes prefix+rel from r; it may be called concurrently.
	WriteFile(ctx context.Context, rel string, r io.Reader, opts *WriterOptions) error
	// Commit makes every object visible at once (where Private).
	Commit(ctx context.Context) error
	// Discard drops an uncommitted tree; it does nothing after Commit.
	Discard()
}

// Bucket is what a backend implements. Every method must be safe for
// concurrent use. Keys are slash-separated; a driver refuses, with an
// error, keys it cannot store and read back unchanged.
type Bucket interface {
	// NewRangeReader reads length bytes of key from offset (length < 0:
	// to the end). Readers of the whole object (0, -1) can Seek.
	NewRangeReader(ctx context.Context, key string, offset, length int64) (Reader, error)
	// ReadAll returns the bytes of key.
	ReadAll(ctx context.Context, key string) ([]byte, error)
	// Attributes returns key's attributes.
	Attributes(ctx context.Context, key string) (*Attributes, error)

	// NewWriter starts a write of key; see Writer. Cancelling ctx before
	// Close discards the object.
	NewWriter(ctx context.Context, key string, opts *WriterOptions) (Writer, error)
	// WriteAll writes key with p, replacing it.
	WriteAll(ctx context.Context, key string, p []byte, opts *WriterOptions) error
	// WriteFrom writes key from r, replacing it; if r or ctx fails the
	// object is left as it was.
	WriteFrom(ctx context.Context, key string, r io.Reader, opts *WriterOptions) error

	// Create writes key from r only if no object has that key,
	// atomically against every other writer, or fails with ErrExists.
	// durable: the object is durable on return; otherwise with the next
	// Sync.
	Create(ctx context.Context, key string, r io.Reader, opts *WriterOptions, durable bool) error
	// Stage prepares key from r; see Staged. A driver may read r at
	// Commit rather than here.
	Stage(ctx context.Context, key string, r io.Reader, opts *WriterOptions) (Staged, error)
	// StageFile is Stage of the first size bytes of f, which never change.
	StageFile(ctx context.Context, key string, f *os.File, size int64, opts *WriterOptions) (Staged, error)
	// NewTree starts a tree under prefix, a key ending with '/'.
	NewTree(ctx context.Context, prefix string) (Tree, error)

	// List returns the objects selected by opts, sorted by key.
	List(ctx context.Context, opts *ListOptions) ([]Object, error)
	// Delete deletes key.
	Delete(ctx context.Context, key string) error
	// DeletePrefix deletes every object under prefix.
	DeletePrefix(ctx context.Context, prefix string) error

	// Sync returns once everything written before the call is durable.
	Sync(ctx context.Context) error
	// OpenLocal opens the local file that holds key, or returns (nil, nil)
	// when the driver has none.
	OpenLocal(key string) (*os.File, error)
	// Close releases the bucket.
	Close() error
}

// SyncSharer is implemented by drivers whose Sync of one bucket may make
// another's writes durable too (two folders of one file system).
type SyncSharer interface {
	// SharesSync reports whether b.Sync also syncs other.
	SharesSync(other Bucket) bool
}

// DeleteListed deletes every object b lists under prefix, one at a time,
// passing over those already gone (another deleter got there first): the
// DeletePrefix of a driver with no bulk delete of its own.
func DeleteListed(ctx context.Context, b Bucket, prefix string) error {
	objs, err := b.List(ctx, &ListOptions{Prefix: prefix})
	if err != nil {
		return err
	}
	var errs []error
	for _, obj := range objs {
		if err := b.Delete(ctx, obj.Key); err != nil && !errors.Is(err, ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// TempRemover is implemented by drivers whose writers leave temporary
// files beside their keys, which a writer that dies mid-write (a crash,
// a kill) never removes and which listings hide.
type TempRemover interface {
	// RemoveStaleTemp removes the writers' temporary files under prefix
	// (a key ending with '/') last modified before cutoff, and the
	// folders that removal leaves empty below prefix, at most max files.
	// It returns what it removed (bucket-relative paths) for the log.
	RemoveStaleTemp(ctx context.Context, prefix string, cutoff time.Time, max int) ([]string, error)
}
