//go:build !linux

package rawfile

import (
	"io/fs"
	"os"
	"path/filepath"
)

// File is an open file.
type File struct{ f *os.File }

// Open opens the named file for reading.
func Open(name string) (*File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return &File{f}, nil
}

// CreateNew creates the named file for writing; it fails with an error
// that is fs.ErrExist if the file exists.
func CreateNew(name string, perm fs.FileMode) (*File, error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return nil, err
	}
	return &File{f}, nil
}

// Rename renames oldpath to newpath, replacing newpath if it is a file.
func Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

// Read reads up to len(p) bytes; it returns io.EOF at the end of the file.
func (f *File) Read(p []byte) (int, error) { return f.f.Read(p) }

// Write writes all of p, or returns why it could not.
func (f *File) Write(p []byte) (int, error) { return f.f.Write(p) }

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

// Dir is an open folder in which files and folders are made by relative
// path.
type Dir struct{ path string }

// OpenDir opens the folder path.
func OpenDir(path string) (*Dir, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrInvalid}
	}
	return &Dir{path: path}, nil
}

// Create creates the file rel of d, or truncates it if it exists, for
// writing.
func (d *Dir) Create(rel string, perm fs.FileMode) (*File, error) {
	f, err := os.OpenFile(filepath.Join(d.path, rel), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return nil, err
	}
	return &File{f}, nil
}

// Mkdir makes the folder rel of d (its parent must exist). An existing
// rel fails with an error that is fs.ErrExist.
func (d *Dir) Mkdir(rel string, perm fs.FileMode) error {
	return os.Mkdir(filepath.Join(d.path, rel), perm)
}

// Close closes the folder.
func (d *Dir) Close() error { return nil }
