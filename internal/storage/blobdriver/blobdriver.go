// Package blobdriver is the cloud backend of package storage: GCS, S3,
// Azure and memory buckets through gocloud.dev/blob. Create-if-absent uses
// the native precondition (GCS ifGenerationMatch=0, S3 and Azure
// If-None-Match: *), which gocloud reports as FailedPrecondition; a write
// that fails or is cancelled is discarded, never saved in part. Cloud
// buckets are durable when a write returns, have no folders to rename
// (a tree's objects appear one by one) and no local files.
//
// It is the only package of the module, with its tests and fsdriver's
// comparison test, that imports gocloud.dev.
package blobdriver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	// Drivers for the bucket URLs operators may pass.
	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/memblob"
	_ "gocloud.dev/blob/s3blob"

	"pkgstore/internal/storage/driver"
)

// Bucket is a gocloud bucket.
type Bucket struct {
	b *blob.Bucket
	// piped makes writers stream through a pipeWriter (azblob://).
	piped bool
}

var _ driver.Bucket = (*Bucket)(nil)

// Open opens a gocloud bucket URL (gs://, s3://, azblob://, mem://).
func Open(ctx context.Context, rawURL string) (*Bucket, error) {
	b, err := blob.OpenBucket(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(rawURL)
	if err != nil { // blob.OpenBucket parsed it already
		b.Close()
		return nil, err
	}
	return &Bucket{b: b, piped: u.Scheme == "azblob"}, nil
}

// newWriter returns the writer of key: save with Close, discard by
// cancelling ctx before Close.
func (b *Bucket) newWriter(ctx context.Context, key string, o *blob.WriterOptions) (io.WriteCloser, error) {
	if b.piped {
		return newPipeWriter(ctx, b.b, key, o), nil
	}
	return b.b.NewWriter(ctx, key, o)
}

// keyErr wraps err of op on key, so that gocloud's NotFound matches
// driver.ErrNotExist and its FailedPrecondition of a create
// driver.ErrExists.
func keyErr(op, key string, err error) error {
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return fmt.Errorf("%s %s: %w (%w)", op, key, driver.ErrNotExist, err)
	case gcerrors.Canceled:
		if !errors.Is(err, context.Canceled) {
			return fmt.Errorf("%s %s: %w (%w)", op, key, context.Canceled, err)
		}
	case gcerrors.DeadlineExceeded:
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%s %s: %w (%w)", op, key, context.DeadlineExceeded, err)
		}
	}
	return fmt.Errorf("%s %s: %w", op, key, err)
}

func writerOptions(o *driver.WriterOptions) *blob.WriterOptions {
	if o == nil {
		return &blob.WriterOptions{}
	}
	return &blob.WriterOptions{ContentType: o.ContentType, BufferSize: o.BufferSize}
}

// NewRangeReader implements driver.Bucket; *blob.Reader seeks and reports
// the size and modification time.
func (b *Bucket) NewRangeReader(ctx context.Context, key string, offset, length int64) (driver.Reader, error) {
	r, err := b.b.NewRangeReader(ctx, key, offset, length, nil)
	if err != nil {
		return nil, keyErr("read", key, err)
	}
	return r, nil
}

// ReadAll implements driver.Bucket.
func (b *Bucket) ReadAll(ctx context.Context, key string) ([]byte, error) {
	p, err := b.b.ReadAll(ctx, key)
	if err != nil {
		return nil, keyErr("read", key, err)
	}
	return p, nil
}

// Attributes implements driver.Bucket.
func (b *Bucket) Attributes(ctx context.Context, key string) (*driver.Attributes, error) {
	a, err := b.b.Attributes(ctx, key)
	if err != nil {
		return nil, keyErr("stat", key, err)
	}
	return &driver.Attributes{Size: a.Size, ModTime: a.ModTime, ContentType: a.ContentType}, nil
}

// writer discards the object unless Close is reached without Abort:
// cancelling the writer's context before Close is how gocloud discards.
type writer struct {
	key    string
	w      io.WriteCloser
	cancel context.CancelFunc
	done   bool
}

func (w *writer) Write(p []byte) (int, error) { return w.w.Write(p) }

func (w *writer) Close() error {
	if w.done {
		return keyErr("write", w.key, os.ErrClosed)
	}
	w.done = true
	defer w.cancel()
	if err := w.w.Close(); err != nil {
		return keyErr("write", w.key, err)
	}
	return nil
}

func (w *writer) Abort() {
	if !w.done {
		w.done = true
		w.cancel()
		w.w.Close()
	}
}

// NewWriter implements driver.Bucket.
func (b *Bucket) NewWriter(ctx context.Context, key string, opts *driver.WriterOptions) (driver.Writer, error) {
	wctx, cancel := context.WithCancel(ctx)
	w, err := b.newWriter(wctx, key, writerOptions(opts))
	if err != nil {
		cancel()
		return nil, keyErr("write", key, err)
	}
	return &writer{key: key, w: w, cancel: cancel}, nil
}

// WriteAll implements driver.Bucket.
func (b *Bucket) WriteAll(ctx context.Context, key string, p []byte, opts *driver.WriterOptions) error {
	if b.piped {
		return b.write(ctx, key, bytes.NewReader(p), writerOptions(opts))
	}
	if err := b.b.WriteAll(ctx, key, p, writerOptions(opts)); err != nil {
		return keyErr("write", key, err)
	}
	return nil
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// WriteFrom implements driver.Bucket.
func (b *Bucket) WriteFrom(ctx context.Context, key string, r io.Reader, opts *driver.WriterOptions) error {
	return b.write(ctx, key, r, writerOptions(opts))
}

// write copies r to key with o; if r or ctx fails, nothing is written.
func (b *Bucket) write(ctx context.Context, key string, r io.Reader, o *blob.WriterOptions) error {
	op := "write"
	if o.IfNotExist {
		op = "create" // as the errors of create-if-absent always read
	}
	// Cancelling the writer's context before Close discards a partial
	// object; Close alone would save whatever was written.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := b.newWriter(wctx, key, o)
	if err != nil {
		return keyErr(op, key, err)
	}
	// gocloud's Writer.ReadFrom allocates a 1 MiB buffer per object; static
	// files are mostly small, so copy through a pooled buffer instead.
	buf := copyBufs.Get().(*[]byte)
	_, err = io.CopyBuffer(struct{ io.Writer }{w}, r, *buf)
	copyBufs.Put(buf)
	if err == nil {
		// A source that ignores ctx must not get a cancelled write saved.
		err = ctx.Err()
	}
	if err != nil {
		cancel()
		w.Close()
		return keyErr(op, key, err)
	}
	if err := w.Close(); err != nil {
		if o.IfNotExist && gcerrors.Code(err) == gcerrors.FailedPrecondition {
			return keyErr("create", key, driver.ErrExists)
		}
		return keyErr(op, key, err)
	}
	return nil
}

// Create implements driver.Bucket with the native precondition; cloud
// objects are durable on return either way.
func (b *Bucket) Create(ctx context.Context, key string, r io.Reader, opts *driver.WriterOptions, _ bool) error {
	o := writerOptions(opts)
	o.IfNotExist = true
	return b.write(ctx, key, r, o)
}

// staged keeps the reader until Commit, which creates the object.
type staged struct {
	b    *Bucket
	key  string
	r    io.Reader
	opts *driver.WriterOptions
	done bool
}

func (s *staged) Commit(ctx context.Context) error {
	if s.done {
		return keyErr("create", s.key, errors.New("staged object already committed or discarded"))
	}
	s.done = true
	return s.b.Create(ctx, s.key, s.r, s.opts, true)
}

func (s *staged) Discard() { s.done = true }

// Stage implements driver.Bucket: r is read by Commit, and must stay
// readable until then.
func (b *Bucket) Stage(ctx context.Context, key string, r io.Reader, opts *driver.WriterOptions) (driver.Staged, error) {
	return &staged{b: b, key: key, r: r, opts: opts}, nil
}

// StageFile implements driver.Bucket.
func (b *Bucket) StageFile(ctx context.Context, key string, f *os.File, size int64, opts *driver.WriterOptions) (driver.Staged, error) {
	return b.Stage(ctx, key, io.NewSectionReader(f, 0, size), opts)
}

// tree writes each object to its key at once: a cloud bucket has no
// folder to rename.
type tree struct {
	b      *Bucket
	prefix string
}

func (t *tree) Private() bool { return false }

func (t *tree) WriteFile(ctx context.Context, rel string, r io.Reader, opts *driver.WriterOptions) error {
	return t.b.WriteFrom(ctx, t.prefix+rel, r, opts)
}

func (t *tree) Commit(context.Context) error { return nil }
func (t *tree) Discard()                     {}

// NewTree implements driver.Bucket.
func (b *Bucket) NewTree(ctx context.Context, prefix string) (driver.Tree, error) {
	if len(prefix) < 2 || !strings.HasSuffix(prefix, "/") {
		return nil, fmt.Errorf("tree %s: prefix is not a folder key", prefix)
	}
	return &tree{b: b, prefix: prefix}, nil
}

// List implements driver.Bucket.
func (b *Bucket) List(ctx context.Context, opts *driver.ListOptions) ([]driver.Object, error) {
	var lo blob.ListOptions
	if opts != nil {
		lo.Prefix, lo.Delimiter = opts.Prefix, opts.Delimiter
	}
	it := b.b.List(&lo)
	var out []driver.Object
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			// Services list in the order of the names they store, which
			// are the escaped keys on Azure ('#' is stored as __0x23__
			// and sorts after '-'); the contract is the keys' own order.
			if !slices.IsSortedFunc(out, compareKeys) {
				slices.SortFunc(out, compareKeys)
			}
			return out, nil
		}
		if err != nil {
			return nil, keyErr("list", lo.Prefix, err)
		}
		if !strings.HasPrefix(obj.Key, lo.Prefix) {
			// The service matched the prefix against its stored name:
			// on Azure a#b is stored as a__0x23__b, which starts with a_.
			continue
		}
		out = append(out, driver.Object{Key: obj.Key, Size: obj.Size, ModTime: obj.ModTime, IsDir: obj.IsDir})
	}
}

func compareKeys(a, b driver.Object) int { return strings.Compare(a.Key, b.Key) }

// Delete implements driver.Bucket.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := b.b.Delete(ctx, key); err != nil {
		return keyErr("delete", key, err)
	}
	return nil
}

// DeletePrefix implements driver.Bucket.
func (b *Bucket) DeletePrefix(ctx context.Context, prefix string) error {
	return driver.DeleteListed(ctx, b, prefix)
}

// Sync implements driver.Bucket: cloud writes are durable on return.
func (b *Bucket) Sync(context.Context) error { return nil }

// OpenLocal implements driver.Bucket: a cloud bucket has no local files.
func (b *Bucket) OpenLocal(string) (*os.File, error) { return nil, nil }

// Close implements driver.Bucket.
func (b *Bucket) Close() error { return b.b.Close() }
