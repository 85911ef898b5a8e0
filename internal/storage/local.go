package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"gocloud.dev/blob"

	"pkgstore/internal/storage/rawfile"
)

// Writes to file buckets.
//
// gocloud's file driver writes an object to a temporary file beside its
// key and renames it over the key. Writing through the driver costs, per
// object, more than the write itself for the small records a publication
// makes (the submission's record three times, the document, provenance,
// the signature): WriteAll computes the MD5 of the bytes twice, the
// writer opens a tracing span, os.MkdirAll stats the folder, the
// *os.File costs five system calls (see package rawfile), and the
// rename stats its target, then a remove of the renamed temporary file
// fails. writeLocal does what the driver does, with the same temporary
// names (which ListAll hides), the same modes and the same result, in
// four system calls: create, write, close, rename.

// WriteAll writes key with p, replacing it.
func (b *Bucket) WriteAll(ctx context.Context, key string, p []byte, opts *blob.WriterOptions) error {
	if b.dir == "" || !plainKey(key) {
		return b.Bucket.WriteAll(ctx, key, p, opts)
	}
	return b.writeLocal(ctx, key, func(f *rawfile.File) error {
		_, err := f.Write(p)
		return err
	})
}

// writeLocal writes key of a file bucket with write, through a temporary
// file renamed over the key once write succeeded and ctx is not done.
func (b *Bucket) writeLocal(ctx context.Context, key string, write func(*rawfile.File) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	final := filepath.Join(b.dir, filepath.FromSlash(fileKey(key)))
	f, tmp, err := createBeside(final)
	if errors.Is(err, fs.ErrNotExist) {
		// A new folder: made as the driver makes them (0o777 less the umask).
		if err = os.MkdirAll(filepath.Dir(final), 0o777); err == nil {
			f, tmp, err = createBeside(final)
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// A cancelled write leaves the object as it was, as the driver's.
		err = ctx.Err()
	}
	if err == nil {
		err = rawfile.Rename(tmp, final)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// createBeside creates the temporary file of final, named as gocloud's
// file driver names it ("<final>.<hex nanoseconds>.tmp", see tempName).
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

// copyLocal is the write of WriteFile on file buckets.
func copyLocal(r io.Reader) func(*rawfile.File) error {
	return func(f *rawfile.File) error {
		buf := copyBufs.Get().(*[]byte)
		defer copyBufs.Put(buf)
		_, err := rawfile.Copy(f, r, *buf)
		return err
	}
}
