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
					got, err := io.ReadAll(z.Reader())
					if err != nil || !bytes.Equal(got, want.Bytes()) {
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
