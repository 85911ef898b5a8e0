package fsdriver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"

	"pkgstore/internal/storage/driver"
)

// Create-if-absent and staging.
//
// An object that must be created only if its key is absent (a published
// zip, a claim, a record written once) is written to a temporary file,
// then given its name with link(2), which fails if the name exists: the
// guard holds across processes, where an open with O_EXCL of the final
// name would expose a partial object. Where the kernel allows it, the
// temporary file is an unnamed O_TMPFILE file in the target's folder
// (unnamed_linux.go); otherwise a named one in the reserved folder.

// stagesUnnamed reports whether the bucket stages objects as unnamed files
// (probed at the first staging, not at open: a read-only store never
// stages, and may sit on a file system where the probe cannot write).
func (b *Bucket) stagesUnnamed() bool {
	if b.gone() != nil {
		return false // probe again once the folder is back
	}
	b.unnamedOnce.Do(func() {
		tmpDir := filepath.Join(b.dir, tempDir)
		b.unnamed = b.mkdirAll(tmpDir, 0o755) == nil && unnamedWorks(tmpDir)
	})
	return b.unnamed
}

// Create implements driver.Bucket.
func (b *Bucket) Create(ctx context.Context, key string, r io.Reader, _ *driver.WriterOptions, durable bool) error {
	s, err := b.stage(ctx, key, r)
	if err != nil {
		return err
	}
	defer s.Discard()
	if durable {
		if err := s.tmp.Sync(); err != nil {
			return keyErr("create", key, err)
		}
	}
	if err := s.link(); err != nil {
		return err
	}
	if durable {
		// The name is durable once its folder is.
		if err := syncDir(filepath.Dir(s.final)); err != nil {
			return keyErr("create", key, err)
		}
	}
	return nil
}

// staged is a staged object: the bytes in tmp, to be linked to final.
type staged struct {
	key   string
	final string
	tmp   *os.File
	// unnamed: tmp is an unnamed file, linked to final through its
	// descriptor, with no name of its own to remove.
	unnamed bool
}

// Stage implements driver.Bucket: the bytes are in a file of the bucket
// when it returns, so a Sync before Commit makes them durable before
// anyone can see the object.
func (b *Bucket) Stage(ctx context.Context, key string, r io.Reader, _ *driver.WriterOptions) (driver.Staged, error) {
	s, err := b.stage(ctx, key, r)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (b *Bucket) stage(ctx context.Context, key string, r io.Reader) (*staged, error) {
	final, err := b.path(key)
	if err != nil {
		return nil, keyErr("create", key, err)
	}
	if err := b.mkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, keyErr("create", key, err)
	}
	var s *staged
	if b.stagesUnnamed() {
		// In the target's folder: the inode is placed beside its name.
		if tmp, err := openUnnamed(filepath.Dir(final)); err == nil {
			s = &staged{key: key, final: final, tmp: tmp, unnamed: true}
		}
	}
	if s == nil {
		// Named temporary files live in the reserved folder (same file
		// system, so link(2) works), which no listing walks.
		tmpDir := filepath.Join(b.dir, tempDir)
		if err := b.mkdirAll(tmpDir, 0o755); err != nil {
			return nil, keyErr("create", key, err)
		}
		tmp, err := os.CreateTemp(tmpDir, "create-*.tmp")
		if err != nil {
			return nil, keyErr("create", key, err)
		}
		s = &staged{key: key, final: final, tmp: tmp}
	}
	if _, err := io.Copy(s.tmp, ctxReader{ctx, r}); err != nil {
		s.Discard()
		return nil, keyErr("create", key, err)
	}
	return s, nil
}

// StageFile implements driver.Bucket. On the file system of f (a zip read
// in place with OpenLocal from the internal bucket, under --data), the
// staged object is a hard link to f's file, not a copy: no second write
// of the bytes, which the Sync before Commit would otherwise wait for.
func (b *Bucket) StageFile(ctx context.Context, key string, f *os.File, size int64, opts *driver.WriterOptions) (driver.Staged, error) {
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() == size {
		if s, err := b.stageLink(key, f.Name()); err == nil {
			return s, nil
		}
		// Another file system, or f was unlinked: copy.
	}
	return b.Stage(ctx, key, io.NewSectionReader(f, 0, size), opts)
}

func (b *Bucket) stageLink(key, src string) (*staged, error) {
	final, err := b.path(key)
	if err != nil {
		return nil, err
	}
	if err := b.mkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, err
	}
	tmpDir := filepath.Join(b.dir, tempDir)
	if err := b.mkdirAll(tmpDir, 0o755); err != nil {
		return nil, err
	}
	tmp, err := createFresh(tmpDir, "link-", ".tmp", func(name string) error { return os.Link(src, name) })
	if err != nil {
		return nil, err
	}
	t, err := os.Open(tmp)
	if err != nil {
		os.Remove(tmp)
		return nil, err
	}
	return &staged{key: key, final: final, tmp: t}, nil
}

// link publishes a staged file under its key with link(2), which fails if
// the key exists.
func (s *staged) link() error {
	var err error
	if s.unnamed {
		err = linkUnnamed(s.tmp, s.final)
	} else {
		err = os.Link(s.tmp.Name(), s.final)
	}
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return keyErr("create", s.key, driver.ErrExists)
		}
		return keyErr("create", s.key, err)
	}
	return nil
}

// Commit links the staged object to its key; the name is durable with the
// bucket's next Sync.
func (s *staged) Commit(ctx context.Context) error {
	if s.tmp == nil {
		return keyErr("create", s.key, errors.New("staged object already committed or discarded"))
	}
	err := s.link()
	s.Discard()
	return err
}

// Discard drops the staged bytes; it is a no-op after Commit.
func (s *staged) Discard() {
	if s.tmp != nil {
		s.tmp.Close()
		if !s.unnamed {
			os.Remove(s.tmp.Name())
		}
		s.tmp = nil
	}
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

// syncDir makes the names in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
