package fsdriver_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"pkgstore/internal/storage"
	"pkgstore/internal/storage/fsdriver"
)

func TestTreeRootSpreadsFolders(t *testing.T) {
	b, err := storage.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tr, err := b.NewTree(context.Background(), "artifacts/static/a-1.0.0/")
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Discard()
	f, err := os.Open(filepath.Join(dirOf(b), fsdriver.TempDir))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		t.Skipf("the file system of %s has no inode flags (%v): nothing to spread", dirOf(b), err)
	}
	if flags&fsdriver.FSTopDirFL == 0 {
		// ext4 keeps the flag; a file system that accepts the ioctl but
		// drops the flag (tmpfs) does not spread folders either.
		var st unix.Statfs_t
		if err := unix.Statfs(dirOf(b), &st); err == nil && st.Type != unix.EXT4_SUPER_MAGIC {
			t.Skipf("file system type %#x keeps no top-folder flag", st.Type)
		}
		t.Fatalf("flags of %s are %#x: no FS_TOPDIR_FL", fsdriver.TempDir, flags)
	}
}
