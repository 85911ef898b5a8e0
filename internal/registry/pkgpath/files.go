package pkgpath

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"
	"time"
)

// File is an opened package file: seekable (Range requests), with the
// size and modification time EPR reports.
type File struct {
	io.ReadSeeker
	Size    int64
	ModTime time.Time
	close   func() error
}

// Close releases the file.
func (f *File) Close() error { return f.close() }

// OpenStatic opens the package file rel (slash-separated, relative to the
// package root). A file that does not exist, or is not a regular file,
// is fs.ErrNotExist. Folder packages are opened through os.Root, so that
// neither ".." nor a link leads out of the version folder.
func (p *Package) OpenStatic(rel string) (*File, error) {
	if !fs.ValidPath(rel) || rel == "." {
		return nil, fs.ErrNotExist
	}
	if !p.Zip {
		r, err := os.OpenRoot(p.Path)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		f, err := r.Open(filepath.FromSlash(rel))
		if err != nil {
			return nil, notExist(err)
		}
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			f.Close()
			return nil, fs.ErrNotExist
		}
		return &File{ReadSeeker: f, Size: fi.Size(), ModTime: fi.ModTime(), close: f.Close}, nil
	}
	zr, err := zip.OpenReader(p.Path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p.Path, err)
	}
	name := path.Join(p.Root, rel)
	for _, zf := range zr.File {
		if zf.Name != name || zf.FileInfo().IsDir() {
			continue
		}
		es := &entrySeeker{zf: zf, size: int64(zf.UncompressedSize64)}
		closeAll := func() error { es.Close(); return zr.Close() }
		return &File{ReadSeeker: es, Size: es.size, ModTime: zf.Modified, close: closeAll}, nil
	}
	zr.Close()
	return nil, fs.ErrNotExist
}

// notExist maps the errors of a confined open to what EPR answers: a
// missing file is fs.ErrNotExist (404); a path under a file (ENOTDIR) or
// an unreadable file stays an error (500, as EPR's); a path that os.Root
// refuses because it leads out of the version folder (a link, "..") is
// "no such file" (404), where EPR would follow it.
func notExist(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fs.ErrNotExist
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return err
	}
	return fs.ErrNotExist
}

// entrySeeker reads a zip entry as an io.ReadSeeker without holding it in
// memory: seeking to the end only reports the size (what http.ServeContent
// asks first), and seeking elsewhere restarts decompression and skips to
// the offset. Range requests on large compressed files cost a re-read,
// memory stays bounded.
type entrySeeker struct {
	zf   *zip.File
	size int64
	rc   io.ReadCloser
	pos  int64 // position of rc
	want int64 // position asked for
}

func (e *entrySeeker) Read(p []byte) (int, error) {
	if e.want >= e.size {
		return 0, io.EOF
	}
	if e.rc == nil || e.pos > e.want {
		if e.rc != nil {
			e.rc.Close()
		}
		rc, err := e.zf.Open()
		if err != nil {
			return 0, err
		}
		e.rc, e.pos = rc, 0
	}
	if e.pos < e.want {
		n, err := io.CopyN(io.Discard, e.rc, e.want-e.pos)
		e.pos += n
		if err != nil {
			return 0, err
		}
	}
	n, err := e.rc.Read(p)
	e.pos += int64(n)
	e.want = e.pos
	return n, err
}

func (e *entrySeeker) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += e.want
	case io.SeekEnd:
		off += e.size
	default:
		return 0, errors.New("seek: invalid whence")
	}
	if off < 0 {
		return 0, errors.New("seek: negative position")
	}
	e.want = off
	return off, nil
}

// Close ends the entry's decompression (File.Close calls it).
func (e *entrySeeker) Close() error {
	if e.rc != nil {
		return e.rc.Close()
	}
	return nil
}

// WriteZip writes the zip EPR generates for a folder package (served at
// /epr/NAME/NAME-VERSION.zip): every folder and file below the version
// folder in lexical walk order, under NAME-VERSION/, headers from the
// files' own information, folders stored and files deflated, exactly as
// EPR's archive/zip writer does, so the bytes are the same.
func (p *Package) WriteZip(w io.Writer) error {
	if p.Zip {
		return errors.New("not a folder package")
	}
	return p.WriteFolderZip(w, p.Path)
}

// WriteFolderZip writes the zip EPR generates from a folder dir under the
// package's NAME-VERSION/: WriteZip's, of any folder. EPR answers with it
// wherever it finds a folder in a file's place (a signature .sig that is
// a folder).
func (p *Package) WriteFolderZip(w io.Writer, dir string) error {
	root := p.ID.Name + "-" + p.ID.Version
	zw := zip.NewWriter(w)
	err := filepath.WalkDir(dir, func(fp string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, fp)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		h, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		h.Name = root + "/" + filepath.ToSlash(rel)
		if info.IsDir() {
			h.Name += "/"
		} else {
			h.Method = zip.Deflate
		}
		hw, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			// EPR's archiver opens the path, following the link: the
			// header is the link's, the content the file's. Followed
			// here only inside the folder; a link out, or dangling,
			// writes no content.
			return copyLinked(hw, dir, rel)
		}
		if info.IsDir() || !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(fp)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(hw, f)
		return err
	})
	if err != nil {
		return fmt.Errorf("zip %s: %w", dir, err)
	}
	return zw.Close()
}

// copyLinked writes the content of the regular file the link rel (below
// dir) leads to, confined to dir.
func copyLinked(w io.Writer, dir, rel string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		return nil
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	_, err = io.Copy(w, f)
	return err
}
