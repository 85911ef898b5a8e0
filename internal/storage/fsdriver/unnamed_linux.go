package fsdriver

import (
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Unnamed files (open(2) with O_TMPFILE) for staged objects.
//
// A staged object used to be a named temporary file in the bucket's
// reserved folder: created, linked to its key, then unlinked. An unnamed
// file is linked to its key directly and never unlinked, which spares two
// directory updates and an inode freed per object. The freed inodes
// mattered most: ext4 without a journal passes over every inode freed in
// the last minute when it looks for a free one (recently_deleted()), and a
// publication creates several records this way, so each creation in a
// busy folder scanned the thousands freed before it (4 % of a migration's
// CPU in perf). A crash leaves nothing behind either: an unnamed file that
// was never linked is freed by the kernel.

// openUnnamed opens an unnamed file for writing in dir's file system.
func openUnnamed(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, &os.PathError{Op: "open unnamed file in", Path: dir, Err: err}
	}
	return os.NewFile(uintptr(fd), filepath.Join(dir, "(unnamed)")), nil
}

// linkUnnamed gives f the name final; it fails with an error matching
// os.ErrExist if final exists. linkat(2) with AT_EMPTY_PATH needs a
// capability that a server does not have; the file's /proc link does not.
func linkUnnamed(f *os.File, final string) error {
	err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.AT_FDCWD, final, unix.AT_SYMLINK_FOLLOW)
	if err != nil {
		return &os.LinkError{Op: "link", Old: f.Name(), New: final, Err: err}
	}
	return nil
}

// unnamedWorks reports whether dir's file system makes unnamed files and
// /proc can link them: a probe made once per bucket, so that a kernel or
// file system without O_TMPFILE (or a container without /proc) falls back
// to named temporary files rather than failing every write.
func unnamedWorks(dir string) bool {
	f, err := openUnnamed(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	probe, err := createFresh(dir, "probe-", ".tmp", func(name string) error { return linkUnnamed(f, name) })
	if err != nil {
		return false
	}
	// A probe left behind (the removal failed) is an old temporary file
	// to cleanTemp at a later start.
	_ = os.Remove(probe)
	return true
}
