package fsdriver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"pkgstore/internal/storage/driver"
	"pkgstore/internal/storage/rawfile"
)

// Writes.
//
// An object is written to a temporary file beside its key, then renamed
// over the key, as gocloud's file driver did (same temporary names, which
// List hides, same modes: 0o666 and folders 0o777 less the umask): a
// reader sees the old object or the new one, never a part. Through bare
// descriptors (package rawfile), a small object costs four system calls:
// create, write, close, rename. There is no fsync: an object survives the
// death of the process on return, and a power failure after the bucket's
// next Sync (sync.go).

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// WriteAll implements driver.Bucket.
func (b *Bucket) WriteAll(ctx context.Context, key string, p []byte, _ *driver.WriterOptions) error {
	w, err := b.create(ctx, key)
	if err != nil {
		return err
	}
	_, err = w.f.Write(p)
	return w.finish(ctx, err)
}

// WriteFrom implements driver.Bucket.
func (b *Bucket) WriteFrom(ctx context.Context, key string, r io.Reader, _ *driver.WriterOptions) error {
	w, err := b.create(ctx, key)
	if err != nil {
		return err
	}
	buf := copyBufs.Get().(*[]byte)
	_, err = rawfile.Copy(w.f, ctxReader{ctx, r}, *buf)
	copyBufs.Put(buf)
	return w.finish(ctx, err)
}

// NewWriter implements driver.Bucket.
func (b *Bucket) NewWriter(ctx context.Context, key string, _ *driver.WriterOptions) (driver.Writer, error) {
	w, err := b.create(ctx, key)
	if err != nil {
		return nil, err
	}
	return &writer{w: w, ctx: ctx}, nil
}

// pending is an object being written: f is the temporary file tmp, to be
// renamed to final.
type pending struct {
	key, final, tmp string
	f               *rawfile.File
}

// create starts the write of key.
func (b *Bucket) create(ctx context.Context, key string) (pending, error) {
	if err := ctx.Err(); err != nil {
		return pending{}, keyErr("write", key, err)
	}
	final, err := b.path(key)
	if err != nil {
		return pending{}, keyErr("write", key, err)
	}
	f, tmp, err := createBeside(final)
	if errors.Is(err, fs.ErrNotExist) {
		// A new folder: made as gocloud's file driver made them.
		if err = b.mkdirAll(filepath.Dir(final), 0o777); err == nil {
			f, tmp, err = createBeside(final)
		}
	}
	if err != nil {
		return pending{}, keyErr("write", key, err)
	}
	return pending{key: key, final: final, tmp: tmp, f: f}, nil
}

// finish closes the temporary file and renames it over the key if err is
// nil and ctx is not done; otherwise it removes it.
func (p pending) finish(ctx context.Context, err error) error {
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// A cancelled write leaves the object as it was.
		err = ctx.Err()
	}
	if err == nil {
		err = rawfile.Rename(p.tmp, p.final)
	}
	if err != nil {
		os.Remove(p.tmp)
		return keyErr("write", p.key, err)
	}
	return nil
}

// createBeside creates the temporary file of final, named as gocloud's
// file driver named it ("<final>.<hex nanoseconds>.tmp", see tempName).
func createBeside(final string) (*rawfile.File, string, error) {
	for range 100 {
		name := final + "." + strconv.FormatInt(time.Now().UnixNano(), 16) + ".tmp"
		f, err := rawfile.CreateNew(name, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, name, err
	}
	return nil, "", fmt.Errorf("create a temporary file beside %s: %w", final, fs.ErrExist)
}

// writer is a driver.Writer over a pending object.
type writer struct {
	w    pending
	ctx  context.Context
	err  error // the first write error
	done bool
}

func (w *writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if err := w.ctx.Err(); err != nil {
		w.err = err
		return 0, err
	}
	n, err := w.w.f.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

func (w *writer) Close() error {
	if w.done {
		return keyErr("write", w.w.key, fs.ErrClosed)
	}
	w.done = true
	return w.w.finish(w.ctx, w.err)
}

func (w *writer) Abort() {
	if !w.done {
		w.done = true
		w.w.f.Close()
		os.Remove(w.w.tmp)
	}
}

// ctxReader fails reads once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
