package imagepages

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	// What pkgstore serve links (the storage drivers among it), so that
	// the initialisers touch as much of this test binary as they touch of
	// pkgstore.
	_ "pkgstore/internal/server"
)

func TestImageRanges(t *testing.T) {
	const maps = `00400000-01d81000 r-xp 00000000 fd:01 4242 /usr/bin/pkgstore
01d81000-03aed000 r--p 01981000 fd:01 4242 /usr/bin/pkgstore
03aed000-03c64000 rw-p 036ed000 fd:01 4242 /usr/bin/pkgstore
03c64000-05c9c000 rw-p 00000000 00:00 0
7f0000000000-7f0000100000 r--s 00000000 fd:01 4242 /usr/bin/pkgstore
7f0000200000-7f0000300000 r-xp 00000000 fd:01 77 /usr/lib/x86_64-linux-gnu/libc.so.6
7f0000400000-7f0000500000 r--p 00000000 fd:01 4242 /usr/bin/pkgstore (deleted)
7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0 [stack]
`
	got, err := imageRanges(strings.NewReader(maps), 4242)
	if err != nil {
		t.Fatal(err)
	}
	// Text, read-only data, and the same file after it was removed; never
	// its writable data, a shared mapping, another file or anonymous memory.
	want := []span{{0x400000, 0x1d81000}, {0x1d81000, 0x3aed000}, {0x7f0000400000, 0x7f0000500000}}
	if len(got) != len(want) {
		t.Fatalf("ranges %x, want %x", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ranges %x, want %x", got, want)
		}
	}
	for _, bad := range []string{
		"zz-01d81000 r-xp 00000000 fd:01 4242 /usr/bin/pkgstore\n",
		"01d81000-00400000 r-xp 00000000 fd:01 4242 /usr/bin/pkgstore\n",
		"00400000 r-xp 00000000 fd:01 4242 /usr/bin/pkgstore\n",
	} {
		if _, err := imageRanges(strings.NewReader(bad), 4242); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// marker is initialised data, in the executable's writable data segment.
var marker = [4]int{1, 2, 3, 4}

func TestReleaseDropsImagePagesOnly(t *testing.T) {
	marker[0] = 99
	before := rssFile(t)
	n, err := Release()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFile(t)
	t.Logf("advised %d MB; file-backed resident %d kB before, %d kB after", n>>20, before, after)
	if n < 1<<20 {
		t.Errorf("advised %d bytes: the executable's mappings were not found", n)
	}
	// The initialisers touch tens of MB of the binary; the runtime and
	// reading /proc again need a MB or two.
	if before < 8<<10 || after > before/2 {
		t.Errorf("file-backed resident set %d kB before, %d kB after: not released", before, after)
	}
	if marker[0] != 99 || marker[3] != 4 {
		t.Errorf("written data lost: %v", marker)
	}
	// The code runs on, faulting its pages back in.
	if s := strconv.Itoa(12345); s != "12345" {
		t.Errorf("Itoa: %q", s)
	}
}

// rssFile is the resident size, in kB, of the executable's read-only
// mappings: the present bit of each of their pages in /proc/self/pagemap,
// read with the file and the buffers ready beforehand, so that measuring
// touches as little code as it can.
func rssFile(t *testing.T) int {
	t.Helper()
	fi, err := os.Stat("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	maps, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	spans, err := imageRanges(maps, fi.Sys().(*syscall.Stat_t).Ino)
	maps.Close()
	if err != nil || len(spans) == 0 {
		t.Fatalf("the executable's mappings: %v %v", spans, err)
	}
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	page := uintptr(os.Getpagesize())
	var size uintptr
	for _, s := range spans {
		size = max(size, (s.hi-s.lo)/page*8)
	}
	buf := make([]byte, size)
	pages := 0
	for _, s := range spans {
		b := buf[:(s.hi-s.lo)/page*8]
		if _, err := syscall.Pread(int(pm.Fd()), b, int64(s.lo/page*8)); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(b); i += 8 {
			if b[i+7]&0x80 != 0 { // bit 63: present
				pages++
			}
		}
	}
	return pages * int(page) / 1024
}

// TestImageRangesKeepsWrittenMappings: a read-only mapping of the
// executable holding pages the process wrote (the RELRO segment of a
// position-independent or cgo-linked binary, relocated by the loader and
// then protected) is left alone: dropping it would bring back the file's
// unrelocated bytes.
func TestImageRangesKeepsWrittenMappings(t *testing.T) {
	const smaps = `00400000-01d81000 r-xp 00000000 fd:01 4242 /usr/bin/pkgstore
Size:              25092 kB
Rss:               12000 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me dw
01d81000-01e00000 r--p 01981000 fd:01 4242 /usr/bin/pkgstore
Size:                508 kB
Anonymous:           508 kB
VmFlags: rd mr mw me dw ac
01e00000-03aed000 r--p 01a00000 fd:01 4242 /usr/bin/pkgstore
Size:              29620 kB
Anonymous:             0 kB
VmFlags: rd mr mw me dw
03aed000-03c64000 rw-p 036ed000 fd:01 4242 /usr/bin/pkgstore
Anonymous:          1500 kB
`
	got, err := imageRanges(strings.NewReader(smaps), 4242)
	if err != nil {
		t.Fatal(err)
	}
	want := []span{{0x400000, 0x1d81000}, {0x1e00000, 0x3aed000}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("ranges %x, want %x", got, want)
	}
}

// TestReleaseInPositionIndependentExecutable builds a program as a PIE
// (its type descriptors and interface tables relocated by the loader into
// a RELRO segment), releases its pages, and checks it runs on.
func TestReleaseInPositionIndependentExecutable(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	bin := filepath.Join(t.TempDir(), "pie")
	build := exec.Command("go", "build", "-buildmode=pie", "-o", bin, "./testdata/pie")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildmode=pie: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "err=*errors.errorString,shape=main.square; 81") {
		t.Fatalf("the PIE after Release: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "released ") || strings.HasPrefix(string(out), "released 0;") {
		t.Fatalf("nothing released: %s", out)
	}
}
