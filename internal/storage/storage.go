package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/gcerrors"

	// Drivers for the bucket URLs operators may pass.
	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/memblob"
	_ "gocloud.dev/blob/s3blob"
)

// ErrExists is returned by CreateIfAbsent when the key already exists.
var ErrExists = errors.New("object already exists")

// Config says where the two buckets are. URLs win over DataDir.
type Config struct {
	DataDir     string // DIR/public and DIR/internal, used when a URL is empty
	PublicURL   string // any gocloud bucket URL
	InternalURL string
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

// Bucket is a gocloud bucket plus, on the file backend, the folder behind it.
type Bucket struct {
	*blob.Bucket
	dir     string // non-empty for file buckets: CreateIfAbsent uses link(2) there
	topOnce sync.Once

	unnamedOnce sync.Once
	unnamed     bool // file buckets: staged objects are unnamed files
}

// stagesUnnamed reports whether the bucket stages objects as unnamed files
// (probed at the first staging, not at open: a read-only store never
// stages, and may sit on a file system where the probe cannot write).
func (b *Bucket) stagesUnnamed() bool {
	b.unnamedOnce.Do(func() {
		tmpDir := filepath.Join(b.dir, tempDir)
		b.unnamed = os.MkdirAll(tmpDir, 0o755) == nil && unnamedWorks(tmpDir)
	})
	return b.unnamed
}

// Open opens both buckets described by cfg.
func Open(ctx context.Context, cfg Config) (*Buckets, error) {
	pub, err := openOne(ctx, cfg.PublicURL, cfg.DataDir, "public")
	if err != nil {
		return nil, err
	}
	internal, err := openOne(ctx, cfg.InternalURL, cfg.DataDir, "internal")
	if err != nil {
		pub.Close()
		return nil, err
	}
	return &Buckets{Public: pub, Internal: internal}, nil
}

func openOne(ctx context.Context, rawURL, dataDir, sub string) (*Bucket, error) {
	if rawURL == "" {
		if dataDir == "" {
			return nil, fmt.Errorf("%s bucket: neither a bucket URL nor a data directory was given", sub)
		}
		return OpenDir(filepath.Join(dataDir, sub))
	}
	b, err := OpenURL(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("%s bucket: %w", sub, err)
	}
	return b, nil
}

// OpenDir opens a folder as a file bucket, creating it if needed. Metadata
// sidecar files are not written, so the folder is a plain mirror of the keys
// (a web server can serve the public one as it is).
func OpenDir(dir string) (*Bucket, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open bucket dir %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("open bucket dir %s: %w", dir, err)
	}
	b, err := fileblob.OpenBucket(abs, &fileblob.Options{Metadata: fileblob.MetadataDontWrite, NoTempDir: true})
	if err != nil {
		return nil, fmt.Errorf("open bucket dir %s: %w", dir, err)
	}
	cleanTemp(abs)
	return &Bucket{Bucket: b, dir: abs}, nil
}

// OpenURL opens any gocloud bucket URL. file:// URLs get the cross-process
// create-if-absent and no metadata sidecars, as with OpenDir.
func OpenURL(ctx context.Context, rawURL string) (*Bucket, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse bucket URL %q: %w", rawURL, err)
	}
	if u.Scheme == "file" {
		if len(u.Query()) > 0 {
			return nil, fmt.Errorf("open bucket %q: file bucket URLs take no query parameters", rawURL)
		}
		return OpenDir(filepath.FromSlash(u.Path))
	}
	b, err := blob.OpenBucket(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("open bucket %q: %w", rawURL, err)
	}
	return &Bucket{Bucket: b}, nil
}

// CreateIfAbsent writes key from r only if no object has that key, atomically
// with respect to every other writer (other goroutines, processes and, on
// cloud backends, machines). It returns ErrExists when the key was taken.
//
// On the file backend gocloud's IfNotExist only serialises writers inside one
// process, so the object is written to a temporary file and published with
// link(2), which fails if the target exists. Cloud drivers map IfNotExist to
// their native precondition (GCS ifGenerationMatch=0, S3 If-None-Match: *,
// Azure If-None-Match: *).
func (b *Bucket) CreateIfAbsent(ctx context.Context, key string, r io.Reader, opts *blob.WriterOptions) error {
	return b.create(ctx, key, r, opts, true)
}

// CreateIfAbsentNoSync is CreateIfAbsent without the durability of the
// object on return on file buckets: its bytes and its name reach the disk
// with the next Sync of the bucket (or whenever the kernel writes them
// back). For records written on the way to a commit point that ends with a
// Sync (a publication), where one Sync shared by everything beats an
// fsync per object. Cloud buckets are durable on return either way.
func (b *Bucket) CreateIfAbsentNoSync(ctx context.Context, key string, r io.Reader, opts *blob.WriterOptions) error {
	return b.create(ctx, key, r, opts, false)
}

func (b *Bucket) create(ctx context.Context, key string, r io.Reader, opts *blob.WriterOptions, durable bool) error {
	if b.dir != "" {
		p, err := b.stage(ctx, key, r)
		if err != nil {
			return err
		}
		defer p.Discard()
		if durable {
			if err := p.tmp.Sync(); err != nil {
				return fmt.Errorf("create %s: %w", key, err)
			}
		}
		if err := p.link(); err != nil {
			return err
		}
		if durable {
			// The name is durable once its folder is.
			if err := syncDir(filepath.Dir(p.final)); err != nil {
				return fmt.Errorf("create %s: %w", key, err)
			}
		}
		return nil
	}
	o := blob.WriterOptions{}
	if opts != nil {
		o = *opts
	}
	o.IfNotExist = true
	// Cancelling the writer's context before Close discards a partial
	// object; Close alone would save whatever was written.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := b.NewWriter(wctx, key, &o)
	if err != nil {
		return fmt.Errorf("create %s: %w", key, err)
	}
	if _, err := io.Copy(w, r); err != nil {
		cancel()
		w.Close()
		return fmt.Errorf("create %s: %w", key, err)
	}
	if err := w.Close(); err != nil {
		if gcerrors.Code(err) == gcerrors.FailedPrecondition {
			return fmt.Errorf("create %s: %w", key, ErrExists)
		}
		return fmt.Errorf("create %s: %w", key, err)
	}
	return nil
}

// Staged is an object written but not yet visible under its key: Commit
// makes it visible if the key is still absent, Discard drops it. On file
// buckets the bytes sit in a temporary file of the bucket, so a Sync
// between Stage and Commit makes them durable before anyone can see the
// object (a publication's zip, its commit point). On cloud buckets the
// reader is kept and sent by Commit (create-if-absent), which is durable
// on return.
type Staged struct {
	b     *Bucket
	key   string
	final string   // file buckets: the target path
	tmp   *os.File // file buckets: the staged bytes
	// unnamed: tmp is an unnamed file (see openUnnamed), linked to final
	// through its descriptor, with no name of its own to remove.
	unnamed bool
	r       io.Reader
	opts    *blob.WriterOptions
}

// Stage prepares key from r; see Staged. On cloud buckets r is read by
// Commit, not by Stage, and must stay readable until then.
func (b *Bucket) Stage(ctx context.Context, key string, r io.Reader, opts *blob.WriterOptions) (*Staged, error) {
	if b.dir == "" {
		return &Staged{b: b, key: key, r: r, opts: opts}, nil
	}
	return b.stage(ctx, key, r)
}

// StageFile is Stage of the first size bytes of f. On a file bucket of
// the same file system as f (a zip read in place with OpenLocal from the
// internal bucket, under --data), the staged object is a hard link to f's
// file, not a copy: no second write of the bytes, which the Sync before
// Commit would otherwise have to wait for. f's file must hold exactly size
// bytes and never change afterwards.
func (b *Bucket) StageFile(ctx context.Context, key string, f *os.File, size int64, opts *blob.WriterOptions) (*Staged, error) {
	if b.dir != "" && plainKey(key) {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() == size {
			if s, err := b.stageLink(key, f.Name()); err == nil {
				return s, nil
			}
			// Another file system, or f was unlinked: copy.
		}
	}
	return b.Stage(ctx, key, io.NewSectionReader(f, 0, size), opts)
}

func (b *Bucket) stageLink(key, src string) (*Staged, error) {
	final := filepath.Join(b.dir, filepath.FromSlash(fileKey(key)))
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, err
	}
	tmpDir := filepath.Join(b.dir, tempDir)
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
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
	return &Staged{b: b, key: key, final: final, tmp: t}, nil
}

func (b *Bucket) stage(ctx context.Context, key string, r io.Reader) (*Staged, error) {
	if !plainKey(key) {
		return nil, fmt.Errorf("create %s: key is not a plain relative path", key)
	}
	final := filepath.Join(b.dir, filepath.FromSlash(fileKey(key)))
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", key, err)
	}
	var s *Staged
	if b.stagesUnnamed() {
		// In the target's folder: the inode is placed beside its name.
		if tmp, err := openUnnamed(filepath.Dir(final)); err == nil {
			s = &Staged{b: b, key: key, final: final, tmp: tmp, unnamed: true}
		}
	}
	if s == nil {
		// Temporary files live in a reserved folder of the bucket (same
		// file system, so link(2) works) that no listing of ours walks.
		tmpDir := filepath.Join(b.dir, tempDir)
		if err := os.MkdirAll(tmpDir, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", key, err)
		}
		tmp, err := os.CreateTemp(tmpDir, "create-*.tmp")
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", key, err)
		}
		s = &Staged{b: b, key: key, final: final, tmp: tmp}
	}
	if _, err := io.Copy(s.tmp, ctxReader{ctx, r}); err != nil {
		s.Discard()
		return nil, fmt.Errorf("create %s: %w", key, err)
	}
	return s, nil
}

// link publishes a staged file under its key with link(2), which fails if
// the key exists.
func (s *Staged) link() error {
	var err error
	if s.unnamed {
		err = linkUnnamed(s.tmp, s.final)
	} else {
		err = os.Link(s.tmp.Name(), s.final)
	}
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("create %s: %w", s.key, ErrExists)
		}
		return fmt.Errorf("create %s: %w", s.key, err)
	}
	return nil
}

// Commit makes the staged object visible under its key if no object has
// that key (ErrExists otherwise). On file buckets the new name is durable
// with the next Sync.
func (s *Staged) Commit(ctx context.Context) error {
	if s.final == "" {
		return s.b.create(ctx, s.key, s.r, s.opts, true)
	}
	if s.tmp == nil {
		return fmt.Errorf("create %s: staged object already committed or discarded", s.key)
	}
	err := s.link()
	s.Discard()
	return err
}

// Discard drops the staged bytes; it is a no-op after Commit.
func (s *Staged) Discard() {
	if s.tmp != nil {
		s.tmp.Close()
		if !s.unnamed {
			os.Remove(s.tmp.Name())
		}
		s.tmp = nil
	}
}

// plainKey reports whether key maps to the same relative path in fileblob
// (no escaping needed), so that our link(2) path and fileblob's reads agree.
func plainKey(key string) bool {
	if key == "" || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") || strings.Contains(key, "//") {
		return false
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	for _, c := range key {
		if c < 32 || c == '\\' {
			return false
		}
	}
	return true
}

// fileKey is the relative path gocloud's file driver stores key at, for
// plain keys: the driver escapes the first '_' of any literal
// "__0x<hex>__" (so that its unescaping cannot be fooled), which package
// names such as "a__0x41__b" (valid: ^[a-z0-9_]+$) contain.
func fileKey(key string) string {
	r := []rune(key)
	var b strings.Builder
	for i := range r {
		if looksEscaped(r, i) {
			b.WriteString("__0x5f__")
			continue
		}
		b.WriteRune(r[i])
	}
	return b.String()
}

// looksEscaped reports whether r[i:] starts with "__0x<hex>__" where hex
// parses as a 32-bit number, gocloud's escape-sequence rule.
func looksEscaped(r []rune, i int) bool {
	const head = "__0x"
	if i+len(head) > len(r) || string(r[i:i+len(head)]) != head {
		return false
	}
	j := i + len(head)
	k := j
	for k < len(r) && r[k] != '_' {
		k++
	}
	if k+1 >= len(r) || r[k] != '_' || r[k+1] != '_' {
		return false
	}
	_, err := strconv.ParseInt(string(r[j:k]), 16, 32)
	return err == nil
}

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

// IsNotFound reports whether err means the object does not exist.
func IsNotFound(err error) bool {
	return gcerrors.Code(err) == gcerrors.NotFound || errors.Is(err, fs.ErrNotExist)
}

// OpenLocal opens the file that holds key on a file bucket, for callers
// that would otherwise copy the object to a local file of their own: a
// publication reads its queued zip in place, and StageFile can then link
// it instead of copying it. It returns (nil, nil) on cloud buckets and for
// keys the file driver escapes; IsNotFound(err) when key is absent. Only
// for objects that are never rewritten while read (written once, deleted
// after).
func (b *Bucket) OpenLocal(key string) (*os.File, error) {
	if b.dir == "" || !plainKey(key) {
		return nil, nil
	}
	f, err := os.Open(filepath.Join(b.dir, filepath.FromSlash(fileKey(key))))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	return f, nil
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// WriteFile writes key from r, overwriting it; if r fails, nothing is
// written.
func (b *Bucket) WriteFile(ctx context.Context, key string, r io.Reader, opts *blob.WriterOptions) error {
	if b.dir != "" && plainKey(key) {
		return b.writeLocal(ctx, key, copyLocal(ctxReader{ctx, r}))
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := b.NewWriter(wctx, key, opts)
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	// gocloud's Writer.ReadFrom allocates a 1 MiB buffer per object; static
	// files are mostly small, so copy through a pooled buffer instead.
	buf := copyBufs.Get().(*[]byte)
	_, err = io.CopyBuffer(struct{ io.Writer }{w}, r, *buf)
	copyBufs.Put(buf)
	if err != nil {
		cancel() // discard the partial object
		w.Close()
		return fmt.Errorf("write %s: %w", key, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// DeletePrefix deletes every object under prefix. On the file backend it
// also removes the folders left empty, so the tree stays a plain mirror of
// the keys.
func (b *Bucket) DeletePrefix(ctx context.Context, prefix string) error {
	objs, err := b.ListAll(ctx, &blob.ListOptions{Prefix: prefix})
	if err != nil {
		return err
	}
	var errs []error
	for _, obj := range objs {
		if err := b.Delete(ctx, obj.Key); err != nil && !IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	if b.dir != "" && strings.HasSuffix(prefix, "/") && plainKey(strings.TrimSuffix(prefix, "/")) {
		removeEmptyTree(filepath.Join(b.dir, filepath.FromSlash(fileKey(strings.TrimSuffix(prefix, "/")))))
	}
	return errors.Join(errs...)
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

// tempName matches the temporary files gocloud's file driver leaves beside
// their targets while writing: "<key>.<hex nanoseconds>.tmp".
var tempName = regexp.MustCompile(`\.[0-9a-f]{15,16}\.tmp$`)

// tempDir is the reserved folder, at the root of a file bucket, of
// CreateIfAbsent's temporary files and of uncommitted Trees. Keys never
// start with '.'.
const tempDir = ".pkgstore-tmp"

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

// ListAll returns every object under opts.Prefix. On the file backend it hides
// writers' temporary files and retries the listing when one vanishes while
// the folder is walked (gocloud's walker fails on that race).
func (b *Bucket) ListAll(ctx context.Context, opts *blob.ListOptions) ([]*blob.ListObject, error) {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		objs, err := b.listOnce(ctx, opts)
		if err == nil || b.dir == "" || !IsNotFound(err) {
			return objs, err
		}
		lastErr = err
	}
	return nil, lastErr
}

func (b *Bucket) listOnce(ctx context.Context, opts *blob.ListOptions) ([]*blob.ListObject, error) {
	it := b.List(opts)
	var out []*blob.ListObject
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			prefix := ""
			if opts != nil {
				prefix = opts.Prefix
			}
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
		if b.dir != "" && !obj.IsDir && tempName.MatchString(path.Base(obj.Key)) {
			continue
		}
		out = append(out, obj)
	}
}
