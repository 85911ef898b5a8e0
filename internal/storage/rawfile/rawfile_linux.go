package rawfile

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// File is an open file.
type File struct {
	fd   int
	name string
}

// Open opens the named file for reading.
func Open(name string) (*File, error) {
	fd, err := openat(unix.AT_FDCWD, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &File{fd: fd, name: name}, nil
}

// CreateNew creates the named file for writing; it fails with an error
// that is fs.ErrExist if the file exists.
func CreateNew(name string, perm fs.FileMode) (*File, error) {
	fd, err := openat(unix.AT_FDCWD, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &File{fd: fd, name: name}, nil
}

// Rename renames oldpath to newpath, replacing newpath if it is a file.
// Unlike os.Rename it does not stat newpath first.
func Rename(oldpath, newpath string) error {
	for {
		err := unix.Renameat(unix.AT_FDCWD, oldpath, unix.AT_FDCWD, newpath)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
		}
		return nil
	}
}

// Read reads up to len(p) bytes; it returns io.EOF at the end of the file.
func (f *File) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, err := unix.Read(f.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, &fs.PathError{Op: "read", Path: f.name, Err: err}
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// Write writes all of p, or returns why it could not.
func (f *File) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		n, err := unix.Write(f.fd, p[written:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return written, &fs.PathError{Op: "write", Path: f.name, Err: err}
		}
		written += n
	}
	return written, nil
}

// Close closes the file.
func (f *File) Close() error {
	return closeFD(&f.fd, f.name)
}

// Dir is an open folder in which files and folders are made by relative
// path, which the kernel resolves from the folder rather than from the
// root, component by component, at every call.
type Dir struct {
	fd   int
	path string
}

// OpenDir opens the folder path.
func OpenDir(path string) (*Dir, error) {
	fd, err := openat(unix.AT_FDCWD, path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return &Dir{fd: fd, path: path}, nil
}

// Create creates the file rel of d, or truncates it if it exists, for
// writing.
func (d *Dir) Create(rel string, perm fs.FileMode) (*File, error) {
	name := filepath.Join(d.path, rel)
	fd, err := openat(d.fd, rel, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &File{fd: fd, name: name}, nil
}

// Mkdir makes the folder rel of d (its parent must exist). An existing
// rel fails with an error that is fs.ErrExist.
func (d *Dir) Mkdir(rel string, perm fs.FileMode) error {
	for {
		err := unix.Mkdirat(d.fd, rel, uint32(perm.Perm()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "mkdir", Path: filepath.Join(d.path, rel), Err: err}
		}
		return nil
	}
}

// Close closes the folder.
func (d *Dir) Close() error {
	return closeFD(&d.fd, d.path)
}

// closeFD closes *fd once and marks it closed.
func closeFD(fd *int, name string) error {
	if *fd < 0 {
		return &fs.PathError{Op: "close", Path: name, Err: fs.ErrClosed}
	}
	// close(2) is not retried on EINTR: the descriptor is gone either way.
	err := unix.Close(*fd)
	*fd = -1
	if err != nil {
		return &fs.PathError{Op: "close", Path: name, Err: err}
	}
	return nil
}

func openat(dirfd int, path string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, path, flags, mode)
		if err != unix.EINTR {
			return fd, err
		}
	}
}
