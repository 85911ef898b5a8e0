package catalog

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/Masterminds/semver/v3"
	"github.com/klauspost/compress/s2"

	"pkgstore/internal/pkg/packagedoc"
)

// The catalog snapshot: a catalog in binary form, written beside a
// cursor's search-index-all.json (storage.IndexSnapshotKey), so that a
// start reads the catalog back without parsing any JSON. This file owns
// the format; nothing else reads or writes it.
//
//	header (plain):
//	  magic            "pkgstore-catalog\x00" (17 bytes)
//	  format version   uint32 big-endian (SnapshotVersion)
//	  cursor           uvarint length + bytes
//	  index size       uvarint: bytes of the cursor's search-index-all.json
//	  index sha256     32 bytes: of that file
//	  header crc       uint32 big-endian: CRC-32C of everything above
//	body (an S2 stream: every chunk carries the CRC-32C of its bytes):
//	  dictionaries     uvarint count, then each: bytes
//	  revisions        uvarint count, then each: a record (encodeRevision)
//	  end              "end" + uvarint revision count again
//
// Integers are uvarints, strings and byte strings a uvarint length and
// their bytes. The bucket is not trusted: every length and count is
// bounded before anything is allocated for it (snapLimits), and
// allocations follow the bytes actually read, so a hostile snapshot costs
// at most the memory its own bytes would.
const (
	snapMagic = "pkgstore-catalog\x00"
	// SnapshotVersion is the format version written; others are refused
	// (the reader falls back to the JSON index).
	SnapshotVersion = 1
)

// Bounds of a snapshot's fields.
const (
	maxSnapString   = 1 << 16  // a name, version, constraint, category, field name
	maxSnapList     = 1 << 16  // elements of one list of strings or templates
	maxSnapBytes    = 64 << 20 // one base, document or dictionary (compressed)
	maxSnapDocument = 64 << 20 // one document once decompressed
	maxSnapRevs     = 1 << 22  // revisions
	maxSnapDicts    = 1 << 20  // dictionaries
	snapBlock       = 1 << 20  // S2 block size of the body (the reader's buffers grow to it as blocks need)
	// MaxSnapshotBody bounds the decompressed body of a snapshot; a larger
	// one is refused (the JSON index is loaded instead).
	MaxSnapshotBody = 4 << 30
)

// ErrSnapshot is the error of a snapshot that cannot be used (missing,
// malformed, another version, not the cursor's): callers fall back to the
// JSON index.
var ErrSnapshot = errors.New("catalog snapshot unusable")

// IndexIdentity names the index file a snapshot was made from.
type IndexIdentity struct {
	Size   int64
	SHA256 [32]byte
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// EncodeSnapshot writes c, the catalog of index file idx, to w.
func EncodeSnapshot(w io.Writer, c *Catalog, idx IndexIdentity) error {
	hdr := []byte(snapMagic)
	hdr = binary.BigEndian.AppendUint32(hdr, SnapshotVersion)
	hdr = appendBytes(hdr, []byte(c.cursor))
	hdr = binary.AppendUvarint(hdr, uint64(idx.Size))
	hdr = append(hdr, idx.SHA256[:]...)
	hdr = binary.BigEndian.AppendUint32(hdr, crc32.Checksum(hdr, castagnoli))
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("write snapshot header: %w", err)
	}
	sw := s2.NewWriter(w, s2.WriterConcurrency(1), s2.WriterBlockSize(snapBlockFor(c)))
	bw := bufio.NewWriterSize(sw, 1<<16)
	dictIdx := map[*s2.Dict]uint64{}
	var dicts []*s2.Dict
	for _, r := range c.revs {
		if r.dict != nil {
			if _, ok := dictIdx[r.dict]; !ok {
				dictIdx[r.dict] = uint64(len(dicts))
				dicts = append(dicts, r.dict)
			}
		}
	}
	var buf []byte
	buf = binary.AppendUvarint(buf[:0], uint64(len(dicts)))
	bw.Write(buf)
	for _, d := range dicts {
		bw.Write(appendBytes(buf[:0], d.Bytes()))
	}
	bw.Write(binary.AppendUvarint(buf[:0], uint64(len(c.revs))))
	for _, r := range c.revs {
		rec, err := appendRevision(buf[:0], r, dictIdx)
		if err != nil {
			return err
		}
		buf = rec
		bw.Write(rec)
		bw.Write(r.base)
		bw.Write(r.doc)
	}
	bw.Write(binary.AppendUvarint(append(buf[:0], "end"...), uint64(len(c.revs))))
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	if err := sw.Close(); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	return nil
}

// Revision flags.
const (
	flagKibana = 1 << iota
	flagAgent
	flagSpec
	flagHasFields
	flagHasDatasets
	flagDeprecated
	flagDict
	flagsKnown = 1<<iota - 1
)

// appendRevision appends r's record up to its base and document bytes,
// which follow it (their lengths are its last two fields).
func appendRevision(b []byte, r *Revision, dictIdx map[*s2.Dict]uint64) ([]byte, error) {
	if r.ext != nil {
		return nil, errExternal(r)
	}
	var flags uint64
	if r.kibana != nil {
		flags |= flagKibana
	}
	if r.agent != nil {
		flags |= flagAgent
	}
	if r.spec != nil {
		flags |= flagSpec
	}
	if r.hasFields {
		flags |= flagHasFields
	}
	if r.hasDatasets {
		flags |= flagHasDatasets
	}
	if r.deprecated != nil {
		flags |= flagDeprecated
	}
	if r.dict != nil {
		flags |= flagDict
	}
	b = binary.AppendUvarint(b, flags)
	b = appendString(b, r.ID.Name)
	b = appendString(b, r.ID.Version)
	b = appendString(b, r.release)
	b = appendString(b, r.typ)
	if r.kibana != nil {
		b = appendString(b, r.kibanaSrc)
	}
	if r.agent != nil {
		b = appendString(b, r.agentSrc)
	}
	if r.spec != nil {
		b = binary.AppendUvarint(b, r.spec.Major())
		b = binary.AppendUvarint(b, r.spec.Minor())
	}
	b = appendStrings(b, r.caps)
	b = appendStrings(b, r.categories)
	b = binary.AppendUvarint(b, uint64(len(r.templates)))
	for _, t := range r.templates {
		b = appendString(b, t.name)
		b = appendStrings(b, t.categories)
	}
	b = appendStrings(b, r.fields)
	b = appendStrings(b, r.datasets)
	if r.deprecated != nil {
		dep, err := json.Marshal(r.deprecated)
		if err != nil {
			return nil, fmt.Errorf("package %s: deprecation notice: %w", r.ID, err)
		}
		b = appendBytes(b, dep)
	}
	if r.dict != nil {
		b = binary.AppendUvarint(b, dictIdx[r.dict])
	}
	b = binary.AppendUvarint(b, uint64(len(r.base)))
	b = binary.AppendUvarint(b, uint64(len(r.doc)))
	return b, nil
}

func appendBytes(b, p []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(p))), p...)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

// DecodeSnapshot reads a snapshot from r as its bytes arrive and returns
// its catalog. It must be the snapshot of cursor's index file idx; any
// other (another cursor, index or format version), and any malformed
// one, is an error wrapping ErrSnapshot.
func DecodeSnapshot(r io.Reader, cursor string, idx IndexIdentity) (*Catalog, error) {
	c, err := decodeSnapshot(r, cursor, idx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	return c, nil
}

func decodeSnapshot(r io.Reader, cursor string, idx IndexIdentity) (*Catalog, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	hdr := &snapReader{r: br, keepCRC: true}
	magic := make([]byte, len(snapMagic))
	if err := hdr.full(magic); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if string(magic) != snapMagic {
		return nil, errors.New("not a catalog snapshot (bad magic)")
	}
	var v [4]byte
	if err := hdr.full(v[:]); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if got := binary.BigEndian.Uint32(v[:]); got != SnapshotVersion {
		return nil, fmt.Errorf("format version %d, this program reads %d", got, SnapshotVersion)
	}
	gotCursor, err := hdr.str(maxSnapString)
	if err != nil {
		return nil, fmt.Errorf("header: cursor: %w", err)
	}
	size, err := hdr.uvarint(1 << 62)
	if err != nil {
		return nil, fmt.Errorf("header: index size: %w", err)
	}
	var sum [32]byte
	if err := hdr.full(sum[:]); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	want := hdr.crc
	hdr.keepCRC = false
	if err := hdr.full(v[:]); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if binary.BigEndian.Uint32(v[:]) != want {
		return nil, errors.New("header checksum mismatch")
	}
	if gotCursor != cursor {
		return nil, fmt.Errorf("snapshot of cursor %q, not %q", gotCursor, cursor)
	}
	if int64(size) != idx.Size || (idx.SHA256 != [32]byte{} && sum != idx.SHA256) {
		return nil, fmt.Errorf("snapshot of another index file (%d bytes, sha256 %x; the cursor's is %d bytes)", size, sum, idx.Size)
	}

	body := &snapReader{r: bufio.NewReaderSize(io.LimitReader(s2.NewReader(br, s2.ReaderMaxBlockSize(snapBlock), s2.ReaderAllocBlock(64<<10)), MaxSnapshotBody+1), 1<<16)}
	body.docBudget = int64(size)
	c, err := body.catalog(cursor)
	if err != nil {
		if body.n > MaxSnapshotBody {
			return nil, fmt.Errorf("body over %d bytes", int64(MaxSnapshotBody))
		}
		return nil, err
	}
	// Nothing may follow the end of the body, compressed or not.
	if _, err := body.r.ReadByte(); err != io.EOF {
		return nil, errors.New("data after the end of the snapshot")
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, errors.New("data after the end of the snapshot")
	}
	return c, nil
}

// snapReader reads a snapshot's fields, every one bounded.
type snapReader struct {
	r       *bufio.Reader
	n       int64 // bytes read
	crc     uint32
	keepCRC bool
	scratch []byte
	bufs    buffers
	// docBudget is what the documents may still decompress to: the index
	// file holds every document whole, so together they are never larger
	// than it (a few bytes of S2 cannot stand for gigabytes of documents).
	docBudget int64
}

var errTruncated = errors.New("truncated")

func (s *snapReader) full(p []byte) error {
	n, err := io.ReadFull(s.r, p)
	s.n += int64(n)
	if s.keepCRC {
		s.crc = crc32.Update(s.crc, castagnoli, p[:n])
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errTruncated
	}
	return err
}

func (s *snapReader) uvarint(limit uint64) (uint64, error) {
	var x uint64
	var shift uint
	for i := 0; ; i++ {
		c, err := s.r.ReadByte()
		if err == io.EOF {
			return 0, errTruncated
		}
		if err != nil {
			return 0, err
		}
		s.n++
		if s.keepCRC {
			s.crc = crc32.Update(s.crc, castagnoli, []byte{c})
		}
		if i == binary.MaxVarintLen64-1 && c > 1 {
			return 0, errors.New("varint overflows 64 bits")
		}
		if c < 0x80 {
			x |= uint64(c) << shift
			break
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	if x > limit {
		return 0, fmt.Errorf("%d over the bound %d", x, limit)
	}
	return x, nil
}

// raw reads a length-prefixed byte string into the scratch buffer (valid
// until the next call).
func (s *snapReader) raw(limit uint64) ([]byte, error) {
	n, err := s.uvarint(limit)
	if err != nil {
		return nil, err
	}
	if cap(s.scratch) < int(n) {
		s.scratch = make([]byte, n)
	}
	p := s.scratch[:n]
	return p, s.full(p)
}

func (s *snapReader) str(limit uint64) (string, error) {
	p, err := s.raw(limit)
	if err != nil {
		return "", err
	}
	return string(p), nil
}

// istr reads an interned string.
func (s *snapReader) istr() (string, error) {
	p, err := s.raw(maxSnapString)
	if err != nil {
		return "", err
	}
	if v, ok := s.bufs.strs[string(p)]; ok {
		return v, nil
	}
	return s.bufs.intern(string(p)), nil
}

func (s *snapReader) strs() ([]string, error) {
	n, err := s.uvarint(maxSnapList)
	if err != nil || n == 0 {
		return nil, err
	}
	out := make([]string, 0, min(n, 64))
	for range n {
		v, err := s.istr()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// kept reads n bytes the catalog keeps: into the slab when small, else
// growing with the bytes actually read, so a length the stream does not
// back allocates nothing large.
func (s *snapReader) kept(n uint64) ([]byte, error) {
	if n <= slabChunk/8 {
		p := s.bufs.slab.alloc(int(n))
		return p, s.full(p)
	}
	var b bytes.Buffer
	m, err := io.CopyN(&b, s.r, int64(n))
	s.n += m
	if err == io.EOF {
		return nil, errTruncated
	}
	if err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (s *snapReader) catalog(cursor string) (*Catalog, error) {
	s.bufs.slab = &slab{}
	nd, err := s.uvarint(maxSnapDicts)
	if err != nil {
		return nil, fmt.Errorf("dictionaries: %w", err)
	}
	dicts := make([]*s2.Dict, 0, min(nd, 1024))
	for i := range nd {
		// Dict.Bytes is a varint (the first repeat offset) and the
		// dictionary, at most MaxDictSize bytes.
		p, err := s.raw(s2.MaxDictSize + binary.MaxVarintLen64)
		if err != nil {
			return nil, fmt.Errorf("dictionary %d: %w", i, err)
		}
		// NewDict keeps its argument (with 16 spare bytes): a copy of
		// its own.
		d := s2.NewDict(append(make([]byte, 0, len(p)+16), p...))
		if d == nil {
			return nil, fmt.Errorf("dictionary %d: invalid (%d bytes)", i, len(p))
		}
		dicts = append(dicts, d)
	}
	nr, err := s.uvarint(maxSnapRevs)
	if err != nil {
		return nil, fmt.Errorf("revisions: %w", err)
	}
	b := NewBuilder(cursor, int(min(nr, 1<<16)))
	for i := range nr {
		r, err := s.revision(dicts)
		if err != nil {
			return nil, fmt.Errorf("revision %d: %w", i, err)
		}
		b.Add(r)
	}
	end := make([]byte, 3)
	if err := s.full(end); err != nil || string(end) != "end" {
		return nil, fmt.Errorf("no end marker after %d revisions", nr)
	}
	if n, err := s.uvarint(maxSnapRevs); err != nil || n != nr {
		return nil, fmt.Errorf("end marker does not repeat the revision count %d", nr)
	}
	return b.Finish()
}

func (s *snapReader) revision(dicts []*s2.Dict) (*Revision, error) {
	flags, err := s.uvarint(flagsKnown)
	if err != nil {
		return nil, fmt.Errorf("flags: %w", err)
	}
	var r Revision
	var version string
	for _, f := range []*string{&r.ID.Name, &version, &r.release, &r.typ} {
		if *f, err = s.istr(); err != nil {
			return nil, err
		}
	}
	// Identity and version are checked as the JSON load checks them.
	if r.ID.Name == "" || version == "" {
		return nil, errors.New("no name or version")
	}
	r.ID.Version = version
	if r.version, err = semver.StrictNewVersion(version); err != nil {
		return nil, fmt.Errorf("package %s: version: %w", r.ID, err)
	}
	r.prerelease, r.major0 = r.version.Prerelease() != "", r.version.Major() == 0
	if flags&flagKibana != 0 {
		if r.kibanaSrc, err = s.istr(); err != nil {
			return nil, err
		}
		if r.kibana, err = s.bufs.constraint(r.kibanaSrc); err != nil {
			return nil, fmt.Errorf("package %s: conditions.kibana.version: %w", r.ID, err)
		}
	}
	if flags&flagAgent != 0 {
		if r.agentSrc, err = s.istr(); err != nil {
			return nil, err
		}
		if r.agent, err = s.bufs.constraint(r.agentSrc); err != nil {
			return nil, fmt.Errorf("package %s: conditions.agent.version: %w", r.ID, err)
		}
	}
	if flags&flagSpec != 0 {
		ma, err := s.uvarint(1 << 32)
		if err != nil {
			return nil, err
		}
		mi, err := s.uvarint(1 << 32)
		if err != nil {
			return nil, err
		}
		r.spec = semver.New(ma, mi, 0, "", "")
	}
	if r.caps, err = s.strs(); err != nil {
		return nil, fmt.Errorf("capabilities: %w", err)
	}
	if r.categories, err = s.strs(); err != nil {
		return nil, fmt.Errorf("categories: %w", err)
	}
	nt, err := s.uvarint(maxSnapList)
	if err != nil {
		return nil, fmt.Errorf("policy templates: %w", err)
	}
	for range nt {
		var t templateInfo
		if t.name, err = s.istr(); err != nil {
			return nil, err
		}
		if t.categories, err = s.strs(); err != nil {
			return nil, err
		}
		r.templates = append(r.templates, t)
	}
	r.hasFields, r.hasDatasets = flags&flagHasFields != 0, flags&flagHasDatasets != 0
	if r.fields, err = s.strs(); err != nil {
		return nil, fmt.Errorf("fields: %w", err)
	}
	if r.datasets, err = s.strs(); err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	if flags&flagDeprecated != 0 {
		p, err := s.raw(maxSnapString)
		if err != nil {
			return nil, fmt.Errorf("deprecation notice: %w", err)
		}
		r.deprecated = &packagedoc.Deprecated{}
		if err := json.Unmarshal(p, r.deprecated); err != nil {
			return nil, fmt.Errorf("deprecation notice: %w", err)
		}
	}
	if flags&flagDict != 0 {
		i, err := s.uvarint(uint64(len(dicts)))
		if err != nil || i >= uint64(len(dicts)) {
			return nil, fmt.Errorf("dictionary index: not one of the %d", len(dicts))
		}
		r.dict = dicts[i]
	}
	nb, err := s.uvarint(maxSnapBytes)
	if err != nil {
		return nil, fmt.Errorf("base: %w", err)
	}
	nd, err := s.uvarint(maxSnapBytes)
	if err != nil {
		return nil, fmt.Errorf("document: %w", err)
	}
	if r.base, err = s.kept(nb); err != nil {
		return nil, fmt.Errorf("base: %w", err)
	}
	if r.doc, err = s.kept(nd); err != nil {
		return nil, fmt.Errorf("document: %w", err)
	}
	// Documents are decompressed per request: their claimed size is
	// bounded here, once, so that no request allocates what a hostile
	// length says.
	n, err := s2.DecodedLen(r.doc)
	if err != nil || n > maxSnapDocument {
		return nil, fmt.Errorf("package %s: document: bad compressed length", r.ID)
	}
	if s.docBudget -= int64(n); s.docBudget < 0 {
		return nil, fmt.Errorf("package %s: documents decompress to more than the index file holds", r.ID)
	}
	return &r, nil
}
