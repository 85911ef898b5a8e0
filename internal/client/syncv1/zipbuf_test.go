package syncv1

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"testing"
)

func TestZipBuf(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limit  int
		writes []int // sizes of successive writes
		spill  bool
	}{
		{"empty", 100, nil, false},
		{"under the limit", 100, []int{10, 20, 30}, false},
		{"exactly the limit", 100, []int{50, 50}, false},
		{"one byte over", 100, []int{50, 51}, true},
		{"one write over", 100, []int{1000}, true},
		{"spills midway then keeps writing", 100, []int{60, 60, 5000, 1}, true},
		{"across chunks", 3 * chunkSize, []int{chunkSize - 1, 2, chunkSize + 5, 7}, false},
		{"one write over several chunks", 3 * chunkSize, []int{3 * chunkSize}, false},
		{"spills several chunks", 2*chunkSize + 10, []int{chunkSize, chunkSize, 10, 1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			z := zipBuf{dir: dir, limit: tc.limit}
			defer z.Close()
			rng := rand.New(rand.NewPCG(1, uint64(len(tc.writes))))
			// Two rounds: the buffer is reused, as a worker reuses it.
			for round := range 2 {
				z.Reset()
				var want bytes.Buffer
				for _, n := range tc.writes {
					p := make([]byte, n)
					for i := range p {
						p[i] = byte(rng.Uint32())
					}
					want.Write(p)
					if k, err := z.Write(p); err != nil || k != n {
						t.Fatalf("round %d: Write = %d, %v", round, k, err)
					}
				}
				if err := z.Finish(); err != nil {
					t.Fatal(err)
				}
				if z.Size() != int64(want.Len()) {
					t.Fatalf("round %d: Size = %d, want %d", round, z.Size(), want.Len())
				}
				if z.spill != tc.spill {
					t.Fatalf("round %d: spilled = %v, want %v", round, z.spill, tc.spill)
				}
				// Every reader starts from the beginning (sign, then upload and retries).
				for range 2 {
					r := z.Reader()
					if left := readerLen(t, r); left != int64(want.Len()) {
						t.Fatalf("round %d: a new Reader has %d bytes left, want %d", round, left, want.Len())
					}
					head := make([]byte, min(want.Len(), 7))
					if _, err := io.ReadFull(r, head); err != nil {
						t.Fatal(err)
					}
					if left := readerLen(t, r); left != int64(want.Len()-len(head)) {
						t.Fatalf("round %d: %d bytes left after %d read, want %d", round, left, len(head), want.Len()-len(head))
					}
					rest, err := io.ReadAll(r)
					if got := append(head, rest...); err != nil || !bytes.Equal(got, want.Bytes()) {
						t.Fatalf("round %d: Reader gave %d bytes (%v), want the %d written", round, len(got), err, want.Len())
					}
				}
			}
			z.Close()
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("Close left %d files in the temporary folder", len(ents))
			}
		})
	}
}

// readerLen is what the upload learns of a Reader's length: Len, or the
// distance to the end for a Seeker.
func readerLen(t *testing.T, r io.Reader) int64 {
	t.Helper()
	switch r := r.(type) {
	case interface{ Len() int }:
		return int64(r.Len())
	case io.Seeker:
		cur, err := r.Seek(0, io.SeekCurrent)
		if err != nil {
			t.Fatal(err)
		}
		end, err := r.Seek(0, io.SeekEnd)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Seek(cur, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		return end - cur
	}
	t.Fatalf("%T tells neither its length nor its end", r)
	return 0
}
