package syncv1

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
)

// chunkSize is the unit of a zipBuf's memory: the buffer grows by chunks,
// never copying what it holds, and keeps them for the worker's next zip.
const chunkSize = 256 << 10

// MemZipLimit is the size up to which a worker keeps the zip it builds in
// memory. Most v1 revisions are a few MB (1.3 MB on average in the
// production branch); writing each to a temporary file only for it to be
// read back twice (signing, upload) made the disk, not the CPU, the limit
// of a migration. Larger zips spill to the worker's temporary file.
const MemZipLimit = 32 << 20

// zipBuf holds one built zip: in memory up to limit bytes, then in a
// temporary file of dir, created on the first spill and kept for the
// worker's next zips.
type zipBuf struct {
	dir    string
	limit  int
	chunks [][]byte // the first used ones hold the zip, in order
	used   int
	file   *os.File
	fw     *bufio.Writer
	size   int64
	spill  bool
}

// Reset empties the buffer for the next zip.
func (z *zipBuf) Reset() {
	z.used = 0
	z.size = 0
	z.spill = false
}

func (z *zipBuf) Write(p []byte) (int, error) {
	if !z.spill && z.size+int64(len(p)) <= int64(z.limit) {
		z.memWrite(p)
		z.size += int64(len(p))
		return len(p), nil
	}
	if !z.spill {
		if err := z.startSpill(); err != nil {
			return 0, err
		}
	}
	n, err := z.fw.Write(p)
	z.size += int64(n)
	return n, err
}

func (z *zipBuf) startSpill() error {
	if z.file == nil {
		f, err := os.CreateTemp(z.dir, "pkgstore-syncv1-*.zip")
		if err != nil {
			return fmt.Errorf("temporary zip: %w", err)
		}
		z.file = f
		z.fw = bufio.NewWriterSize(f, 256<<10)
	}
	if _, err := z.file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := z.file.Truncate(0); err != nil {
		return err
	}
	z.fw.Reset(z.file)
	for _, c := range z.chunks[:z.used] {
		if _, err := z.fw.Write(c); err != nil {
			return err
		}
	}
	z.used = 0
	z.spill = true
	return nil
}

func (z *zipBuf) memWrite(p []byte) {
	for len(p) > 0 {
		if z.used == 0 || len(z.chunks[z.used-1]) == cap(z.chunks[z.used-1]) {
			if z.used == len(z.chunks) {
				z.chunks = append(z.chunks, make([]byte, 0, chunkSize))
			}
			z.chunks[z.used] = z.chunks[z.used][:0]
			z.used++
		}
		c := z.chunks[z.used-1]
		k := min(len(p), cap(c)-len(c))
		z.chunks[z.used-1] = append(c, p[:k]...)
		p = p[k:]
	}
}

// Finish flushes a spilled zip to its file.
func (z *zipBuf) Finish() error {
	if z.spill {
		return z.fw.Flush()
	}
	return nil
}

// Size is the number of bytes written since Reset.
func (z *zipBuf) Size() int64 { return z.size }

// Reader reads the zip from its start; each call returns a new reader.
func (z *zipBuf) Reader() io.Reader {
	if z.spill {
		return io.NewSectionReader(z.file, 0, z.size)
	}
	rs := make([]io.Reader, z.used)
	for i, c := range z.chunks[:z.used] {
		rs[i] = bytes.NewReader(c)
	}
	return io.MultiReader(rs...)
}

// Close removes the temporary file, if there is one.
func (z *zipBuf) Close() {
	if z.file != nil {
		z.file.Close()
		os.Remove(z.file.Name())
		z.file = nil
	}
}
