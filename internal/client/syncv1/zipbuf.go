package syncv1

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
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
// Both kinds tell how much is left to read (Len, or Seek), so that the
// upload is sent with its length rather than in chunks.
func (z *zipBuf) Reader() io.Reader {
	if z.spill {
		return io.NewSectionReader(z.file, 0, z.size)
	}
	return &chunkReader{chunks: slices.Clone(z.chunks[:z.used]), left: int(z.size)}
}

// chunkReader reads an in-memory zip's chunks in order.
type chunkReader struct {
	chunks [][]byte // what is left of each; a copy of the buffer's list
	left   int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.chunks) > 0 && len(r.chunks[0]) == 0 {
		r.chunks = r.chunks[1:]
	}
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.chunks[0])
	r.chunks[0] = r.chunks[0][n:]
	r.left -= n
	return n, nil
}

// Len is the number of bytes not read yet.
func (r *chunkReader) Len() int { return r.left }

// Close removes the temporary file, if there is one.
func (z *zipBuf) Close() {
	if z.file != nil {
		z.file.Close()
		os.Remove(z.file.Name())
		z.file = nil
	}
}
