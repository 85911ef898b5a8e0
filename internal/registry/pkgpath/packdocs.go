package pkgpath

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
)

// The documents of the packages are kept in the cache file, not on the
// heap. A package's document is read by /package/NAME/VERSION/ only
// (search answers come from the little each revision keeps), so the
// catalog need not hold it: compressed, it was 3-4 KB of the 4-5 KB a
// revision holds, 6 MB of a serve over the distribution image's 1,918
// zips, and with it the heap the first scan grows to (docs/benchmarks.md,
// "Third pass on the peak RSS"). The cache file already holds every
// document, written as the scan reads it; a document is read back from
// it with one pread and checked against the CRC kept for it. When that
// fails (the cache file removed, rewritten by another process, cut short
// by a failed append), the document is built again from the package's
// own files, as the scan built it, and served only if it is the same
// bytes.
//
// Without a cache folder, or when the cache file cannot be written, the
// catalog keeps the documents as before.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// docFile is the cache file documents are read back from, opened once
// the scan that wrote it is over.
type docFile struct {
	f   atomic.Pointer[os.File]
	log *slog.Logger
	// warned limits the fallback's warning to once per process.
	warned sync.Once
}

// open opens the cache file at path for reading; on failure documents are
// built again from their packages.
func (d *docFile) open(path string) {
	f, err := os.Open(path)
	if err != nil {
		d.log.Warn("package path cache unreadable; documents will be read from the packages", "err", err)
		return
	}
	if old := d.f.Swap(f); old != nil {
		old.Close()
	}
}

// docAt is where one package's document is: in the cache file at off,
// n bytes with CRC-32C crc; built again from c when the file does not
// give them.
type docAt struct {
	file *docFile
	c    candidate
	opts Options
	off  int64 // -1 until the record is written
	n    int
	crc  uint32
}

func newDocAt(file *docFile, c candidate, opts Options, doc []byte) *docAt {
	return &docAt{file: file, c: c, opts: opts, off: -1, n: len(doc), crc: crc32.Checksum(doc, castagnoli)}
}

// Document returns the document (catalog.DocumentSource).
func (d *docAt) Document() ([]byte, error) {
	if f := d.file.f.Load(); f != nil && d.off >= 0 {
		b := make([]byte, d.n)
		if _, err := f.ReadAt(b, d.off); err == nil && crc32.Checksum(b, castagnoli) == d.crc {
			return b, nil
		}
	}
	d.file.warned.Do(func() {
		d.file.log.Warn("package path cache does not hold a document it wrote; reading it from the package", "file.path", d.c.path)
	})
	_, signed, err := fingerprint(d.c)
	if err != nil {
		return nil, fmt.Errorf("read the document of %s again: %w", d.c.path, err)
	}
	l, err := load(d.c, d.opts, signed, new(bytes.Buffer))
	if err != nil {
		return nil, fmt.Errorf("read the document of %s again: %w", d.c.path, err)
	}
	if len(l.Doc) != d.n || crc32.Checksum(l.Doc, castagnoli) != d.crc {
		return nil, fmt.Errorf("%s changed since it was loaded: %w", d.c.path, ErrChanged)
	}
	return l.Doc, nil
}

// ErrChanged is the error of a document asked for after its package's
// files changed and before a rescan took the change.
var ErrChanged = fmt.Errorf("package changed on disk")

// place records where the document was written (-1: it was not); a nil
// d (the revision holds its document) ignores it.
func (d *docAt) place(off int64) {
	if d != nil {
		d.off = off
	}
}
