package pkgpath

import (
	"errors"
	"io"
	"os"
	"sync"
)

// blockReader reads a zip file for load through a few cached blocks:
// archive/zip reads the central directory in 4 KB pieces and each entry's
// local header and data with reads of their own, each a system call; the
// manifests a document needs sit in a few blocks. Only the blocks holding
// what is read are read (the rest of the zip is not), at most
// zipBlocks of them are held, and they are given back when the load ends.
// It is not safe for concurrent use: one load reads one zip at a time.
type blockReader struct {
	f      *os.File
	size   int64
	blocks map[int64]*[]byte
}

const (
	zipBlock  = 64 << 10
	zipBlocks = 16
)

var zipBlockPool = sync.Pool{New: func() any { b := make([]byte, zipBlock); return &b }}

func newBlockReader(f *os.File, size int64) *blockReader {
	return &blockReader{f: f, size: size, blocks: make(map[int64]*[]byte, 4)}
}

// ReadAt reads len(p) bytes at off, or up to the end of the file with
// io.EOF.
func (r *blockReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	n := 0
	for n < len(p) {
		if off >= r.size {
			return n, io.EOF
		}
		bi := off / zipBlock
		b, err := r.block(bi)
		if err != nil {
			return n, err
		}
		c := copy(p[n:], b[off-bi*zipBlock:])
		n += c
		off += int64(c)
	}
	return n, nil
}

func (r *blockReader) block(bi int64) ([]byte, error) {
	start := bi * zipBlock
	want := min(int64(zipBlock), r.size-start)
	if b, ok := r.blocks[bi]; ok {
		return (*b)[:want], nil
	}
	if len(r.blocks) >= zipBlocks {
		r.release()
	}
	b := zipBlockPool.Get().(*[]byte)
	m, err := r.f.ReadAt((*b)[:want], start)
	if int64(m) < want {
		zipBlockPool.Put(b)
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // the file shrank as it was read
		}
		return nil, err
	}
	r.blocks[bi] = b
	return (*b)[:want], nil
}

// release gives the blocks back.
func (r *blockReader) release() {
	for k, b := range r.blocks {
		zipBlockPool.Put(b)
		delete(r.blocks, k)
	}
}
