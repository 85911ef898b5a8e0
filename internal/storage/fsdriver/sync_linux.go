package fsdriver

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFS flushes the file system holding dir: syncfs(2).
func syncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Syncfs(int(d.Fd()))
}

func deviceOf(dir string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return 0, err
	}
	return uint64(st.Dev), nil
}

func sameDevice(a, b string) (bool, error) {
	da, err := deviceOf(a)
	if err != nil {
		return false, err
	}
	db, err := deviceOf(b)
	return err == nil && da == db, err
}

// fsTopDirFL is FS_TOPDIR_FL (chattr +T).
const fsTopDirFL = 0x00020000

// markTopDir asks ext2/3/4 to treat dir as the top of a hierarchy: the
// folders made in it are spread over the file system's block groups
// (Orlov's rule for top-level folders) instead of packed into dir's own.
// Best effort: other file systems refuse the flag, which changes nothing.
func markTopDir(dir string) {
	f, err := os.Open(dir)
	if err != nil {
		return
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil || flags&fsTopDirFL != 0 {
		return
	}
	_ = unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags|fsTopDirFL))
}
