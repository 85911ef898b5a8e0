package catalog

import (
	"errors"
	"fmt"

	"pkgstore/internal/pkg/packagedoc"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/publish/index"
)

// DocumentSource gives a revision's full document when the catalog does
// not hold it (Parser.RevisionAt): the same bytes the revision was built
// from, every time, or an error.
type DocumentSource interface {
	Document() ([]byte, error)
}

// RevisionAt is Parser.Revision for a document that src can give again:
// the revision keeps only what filters and /search need, not the document
// (compressed, the largest part of a revision: 3-4 KB of the 4-5 KB a
// package path's revision holds), and Catalog.Document asks src. The
// package paths use it for the documents their cache file holds, so a
// serve over 1,918 zips does not keep 6 MB of documents on its heap that
// only /package/NAME/VERSION/ reads (docs/benchmarks.md, "Third pass on
// the peak RSS").
func (p *Parser) RevisionAt(e index.Entry, src DocumentSource) (*Revision, error) {
	return p.external(src, func() (*Revision, error) { return newRevisionBuf(e, &p.b) })
}

// RevisionOfAt is RevisionAt for a document its caller has just built:
// fields are what decoding doc gives (Parser.RevisionOf), so doc is not
// decoded again, and the revision keeps neither doc nor fields' manifest.
func (p *Parser) RevisionOfAt(id packageid.ID, fields packagedoc.BasePackage, formatVersion string, doc []byte, src DocumentSource) (*Revision, error) {
	return p.external(src, func() (*Revision, error) { return p.RevisionOf(id, fields, formatVersion, doc) })
}

// external builds a revision with build, leaving its document out, and
// has it ask src for the document instead.
func (p *Parser) external(src DocumentSource, build func() (*Revision, error)) (*Revision, error) {
	if src == nil {
		return nil, errors.New("catalog: a revision without its document needs a document source")
	}
	p.b.noDoc = true
	r, err := build()
	p.b.noDoc = false
	if err != nil {
		return nil, err
	}
	r.ext = src
	return r, nil
}

// errExternal refuses to write a revision whose document the catalog does
// not hold into a snapshot: snapshots are of store indexes, which always
// hold theirs.
func errExternal(r *Revision) error {
	return fmt.Errorf("package %s: document not held by the catalog (package path): no snapshot", r.ID)
}

// snapBlockFor is the S2 block size a snapshot of c is written with: the
// largest (snapBlock) for a catalog whose body fills it, the smallest
// power of two holding the whole body otherwise, at least 64 KB. The
// writer allocates two buffers of a block each whatever it writes: 2.2 MB
// for the snapshot of an empty store's index, which a serve over package
// paths writes right after its first scan, when the heap is at its
// largest. Readers accept any block up to snapBlock.
func snapBlockFor(c *Catalog) int {
	n := 1 << 10 // header, dictionaries' counts, the end mark
	for _, r := range c.revs {
		n += len(r.base) + len(r.doc) + 256
		if r.dict != nil {
			n += len(r.dict.Bytes()) // once per revision: more than the body holds, never less
		}
		if n >= snapBlock {
			return snapBlock
		}
	}
	b := 64 << 10
	for b < n && b < snapBlock {
		b <<= 1
	}
	return b
}
