package pkgpath

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestBlockReader: every read through the blocks gives the file's bytes,
// across block boundaries, past the number of blocks held, and up to the
// end (io.EOF); a file that shrank as it was read is an error, not
// short data.
func TestBlockReader(t *testing.T) {
	data := make([]byte, zipBlock*(zipBlocks+3)+123)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	p := filepath.Join(t.TempDir(), "f.zip")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := newBlockReader(f, int64(len(data)))
	defer r.release()
	for _, tc := range []struct{ off, n int }{
		{0, 30}, {zipBlock - 10, 20}, {zipBlock - 1, 2*zipBlock + 2}, {len(data) - 5, 5}, {0, len(data)},
		{3 * zipBlock, 4096}, {len(data) - zipBlock - 7, zipBlock + 7},
	} {
		got := make([]byte, tc.n)
		n, err := r.ReadAt(got, int64(tc.off))
		if err != nil && !errors.Is(err, io.EOF) || n != tc.n || !bytes.Equal(got, data[tc.off:tc.off+tc.n]) {
			t.Errorf("ReadAt(%d bytes at %d) = %d, %v; bytes equal: %t", tc.n, tc.off, n, err, bytes.Equal(got[:n], data[tc.off:tc.off+n]))
		}
		if len(r.blocks) > zipBlocks {
			t.Errorf("%d blocks held, at most %d", len(r.blocks), zipBlocks)
		}
	}
	for range 200 {
		off, n := rng.IntN(len(data)), rng.IntN(3*zipBlock)
		got := make([]byte, n)
		m, err := r.ReadAt(got, int64(off))
		want := data[off:min(off+n, len(data))]
		if m != len(want) || !bytes.Equal(got[:m], want) || (m < n) != errors.Is(err, io.EOF) {
			t.Fatalf("ReadAt(%d bytes at %d) = %d, %v", n, off, m, err)
		}
	}
	if n, err := r.ReadAt(make([]byte, 1), int64(len(data))); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("ReadAt at the end = %d, %v; want 0, EOF", n, err)
	}

	// The file shrinks under a reader that believes the old size.
	r.release()
	if err := os.Truncate(p, int64(len(data)/2)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadAt(make([]byte, 10), int64(len(data)-20)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("read past a shrunk end: %v, want io.ErrUnexpectedEOF", err)
	}
}
