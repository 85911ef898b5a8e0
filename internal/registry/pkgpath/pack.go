package pkgpath

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// The cache is one file, packName, in the cache folder: a record per
// package, a header line (the entry, with its document's length) then the
// document and a newline. One file rather than one per package: on a
// first start over the distribution image's 1,918 zips, creating 1,918
// files was a quarter of the CPU (a create costs about half a millisecond
// of kernel time on a loaded ext4), and a restart opened 1,918 files.
//
// Open writes a new pack beside the old one as it scans (records come from
// the old pack or from the packages) and renames it over the old one when
// the scan succeeds; when the old pack already holds every package as it
// is (a restart over unchanged folders), the start only appends what it
// had to read again, and a watcher's rescan appends the packages it read. A record cut short (a crash during an append) ends the
// pack for the reader: what follows is not read, and the next start writes
// the pack again.
const packName = "packages.pack"

// packVersion is the header line's format; a pack of another is unused.
const packVersion = 1

// maxCacheEntry bounds one record's document.
const maxCacheEntry = 64 << 20

// packRec is where a record's document is in the old pack.
type packRec struct {
	e   entry
	off int64
	n   int
}

// packHead is a record's header line.
type packHead struct {
	V int `json:"v"`
	entry
	Len int `json:"len"`
}

// oldPack is the pack found at start, indexed by package path.
type oldPack struct {
	f    *os.File
	recs map[string]packRec
	// records is how many whole records the file holds; torn is whether
	// it ended in a record cut short (or one not understood).
	records int
	torn    bool
}

// openPack indexes the pack of dir; a missing pack is an empty one.
func openPack(dir string) (*oldPack, error) {
	p := &oldPack{recs: map[string]packRec{}}
	f, err := os.Open(filepath.Join(dir, packName))
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, err
	}
	p.f = f
	br := bufio.NewReaderSize(f, 64<<10)
	var off int64
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, io.EOF) && len(line) == 0 {
			return p, nil
		}
		var h packHead
		if err != nil || json.Unmarshal(line, &h) != nil || h.V != packVersion || h.Len < 0 || h.Len > maxCacheEntry {
			p.torn = true
			return p, nil
		}
		off += int64(len(line))
		if _, err := br.Discard(h.Len); err != nil {
			p.torn = true
			return p, nil
		}
		if nl, err := br.ReadByte(); err != nil || nl != '\n' {
			p.torn = true
			return p, nil
		}
		p.recs[h.Path] = packRec{e: h.entry, off: off, n: h.Len}
		p.records++
		off += int64(h.Len) + 1
	}
}

// doc reads the document of rec.
func (p *oldPack) doc(rec packRec) ([]byte, error) {
	b := make([]byte, rec.n)
	if _, err := p.f.ReadAt(b, rec.off); err != nil {
		return nil, err
	}
	return b, nil
}

func (p *oldPack) close() {
	if p != nil && p.f != nil {
		p.f.Close()
	}
}

// packWriter writes records to a file, one at a time.
type packWriter struct {
	mu  sync.Mutex
	f   *os.File
	bw  *bufio.Writer
	n   int // records written
	err error
	// off is the file's size once everything written is flushed.
	off int64
	// appended is the pack's size before an append (appendPack); -1
	// for a new pack, which takes every record, from the old pack too.
	appended int64
}

// add writes the record of e with its document and returns where the
// document starts in the file, or -1 when it could not be written.
func (w *packWriter) add(e *entry, doc []byte) int64 {
	head, err := json.Marshal(packHead{V: packVersion, entry: *e, Len: len(doc)})
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return -1
	}
	if err != nil {
		w.err = err
		return -1
	}
	w.bw.Write(head)
	w.bw.WriteByte('\n')
	w.bw.Write(doc)
	if err := w.bw.WriteByte('\n'); err != nil {
		w.err = err
		return -1
	}
	w.n++
	at := w.off + int64(len(head)) + 1
	w.off = at + int64(len(doc)) + 1
	return at
}

// newPack starts a new pack in dir, beside the old one.
func newPack(dir string) (*packWriter, error) {
	f, err := os.CreateTemp(dir, "."+packName+".*.tmp")
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &packWriter{f: f, bw: bufio.NewWriterSize(f, 256<<10), appended: -1}, nil
}

// commit replaces the pack of dir with w's.
func (w *packWriter) commit(dir string) error {
	err := w.err
	if ferr := w.bw.Flush(); err == nil {
		err = ferr
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.f.Name(), filepath.Join(dir, packName))
	}
	if err != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("package path cache: %w", err)
	}
	return nil
}

// discard drops w's file.
func (w *packWriter) discard() {
	w.f.Close()
	os.Remove(w.f.Name())
}

// appendPack opens the pack of dir to append records to (a watcher's
// rescan); finish with end.
func appendPack(dir string) (*packWriter, error) {
	f, err := os.OpenFile(filepath.Join(dir, packName), os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &packWriter{f: f, bw: bufio.NewWriterSize(f, 64<<10), appended: size, off: size}, nil
}

// end finishes an append. On failure the pack is cut back to its size
// before, so that no record is left torn; if that fails too it is removed
// (a miss for every package at the next start, never a wrong document).
func (w *packWriter) end() error {
	err := w.err
	if ferr := w.bw.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		if terr := w.f.Truncate(w.appended); terr != nil {
			os.Remove(w.f.Name())
		}
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("package path cache: %w", err)
	}
	return nil
}

// pruneCacheDir removes what the cache folder holds besides the pack:
// the one-file-per-package cache files of earlier versions and temporary
// packs left by a crash.
func pruneCacheDir(dir string) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, d := range des {
		n := d.Name()
		if strings.HasSuffix(n, ".json") || (strings.HasPrefix(n, "."+packName+".") && strings.HasSuffix(n, ".tmp")) {
			os.Remove(filepath.Join(dir, n))
		}
	}
}
