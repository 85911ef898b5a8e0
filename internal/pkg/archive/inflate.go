package archive

import (
	"bufio"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
)

// Every entry of a package is inflated twice on the way to publication
// (verified here, then copied out as a static file), so the inflater
// matters: klauspost/compress's is faster than the standard library's, and
// a 64 KiB read buffer spares the many 4 KiB reads (one pread each on a
// file) that flate's default buffering makes. Both are pooled, like
// archive/zip's own.

var (
	inflaters sync.Pool // of flate readers, reset per entry
	readBufs  = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}
)

type inflater struct {
	fr io.ReadCloser
	br *bufio.Reader
}

func newInflater(r io.Reader) io.ReadCloser {
	br := readBufs.Get().(*bufio.Reader)
	br.Reset(r)
	fr, ok := inflaters.Get().(io.ReadCloser)
	if ok {
		// Reset never fails for a nil dictionary.
		_ = fr.(flate.Resetter).Reset(br, nil)
	} else {
		fr = flate.NewReader(br)
	}
	return &inflater{fr: fr, br: br}
}

func (f *inflater) Read(p []byte) (int, error) {
	if f.fr == nil {
		return 0, io.ErrClosedPipe
	}
	return f.fr.Read(p)
}

func (f *inflater) Close() error {
	if f.fr == nil {
		return nil
	}
	err := f.fr.Close()
	inflaters.Put(f.fr)
	f.br.Reset(nil)
	readBufs.Put(f.br)
	f.fr, f.br = nil, nil
	return err
}
