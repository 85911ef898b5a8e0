package imagepages

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Release drops the executable's resident read-only pages from the
// process (text, read-only data, the function tables) and returns how many
// bytes of mappings it advised. Call it once the initialisers have run and
// before the long-lived work starts; it is safe to call at any time.
func Release() (int64, error) {
	fi, err := os.Stat("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("stat executable: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, errors.New("stat executable: no inode")
	}
	// smaps rather than maps: it says, per mapping, how much of it is
	// anonymous, i.e. pages this process wrote (a RELRO segment of a PIE or
	// cgo-linked binary is written by the dynamic loader, then made
	// read-only: "r--p" like the rest, yet dropping it would lose its
	// relocations).
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, fmt.Errorf("open mappings: %w", err)
	}
	defer f.Close()
	ranges, err := imageRanges(f, st.Ino)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, r := range ranges {
		// The addresses come from the kernel's listing, not from Go
		// pointers: syscall.Madvise wants a slice, which would need one.
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, r.lo, r.hi-r.lo, syscall.MADV_DONTNEED); errno != 0 {
			return n, fmt.Errorf("madvise %#x-%#x: %w", r.lo, r.hi, errno)
		}
		n += int64(r.hi - r.lo)
	}
	return n, nil
}

// span is one mapping's address range.
type span struct{ lo, hi uintptr }

// imageRanges returns the private, read-only mappings of the file whose
// inode is ino that hold no page the process wrote, from a
// /proc/PID/smaps listing (a "lo-hi perms offset dev inode path" line per
// mapping, then "Key: value" lines, among them "Anonymous: N kB"; a
// /proc/PID/maps listing, without them, reads the same). The inode, not
// the path, identifies the executable: the path may have been replaced or
// removed since the start.
func imageRanges(r io.Reader, ino uint64) ([]span, error) {
	var out []span
	var cur *span // the mapping whose fields are being read, if a candidate
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if strings.HasSuffix(f[0], ":") {
			// A field of the mapping above: a written (copy-on-write)
			// page exists nowhere but in this process, so a mapping with
			// any is kept whole.
			if cur != nil && f[0] == "Anonymous:" && (len(f) < 2 || f[1] != "0") {
				out = out[:len(out)-1]
				cur = nil
			}
			continue
		}
		cur = nil
		if len(f) < 6 {
			continue
		}
		perms := f[1]
		// Only private ("p"), not writable.
		if len(perms) != 4 || perms[1] == 'w' || perms[3] != 'p' {
			continue
		}
		if in, err := strconv.ParseUint(f[4], 10, 64); err != nil || in != ino || in == 0 {
			continue
		}
		a, b, ok := strings.Cut(f[0], "-")
		if !ok {
			return nil, fmt.Errorf("mappings: bad range %q", f[0])
		}
		lo, err1 := strconv.ParseUint(a, 16, 64)
		hi, err2 := strconv.ParseUint(b, 16, 64)
		if err1 != nil || err2 != nil || hi <= lo {
			return nil, fmt.Errorf("mappings: bad range %q", f[0])
		}
		out = append(out, span{uintptr(lo), uintptr(hi)})
		cur = &out[len(out)-1]
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mappings: %w", err)
	}
	return out, nil
}
