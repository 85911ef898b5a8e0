package catalog

import (
	"fmt"

	"github.com/klauspost/compress/s2"
)

// StoredDocument returns r's document as the parser was given it (the
// index's bytes, or the document a package path's scan encoded),
// decompressed: neither reformatted nor carrying a propagated deprecation
// notice, unlike Catalog.Document.
func (r *Revision) StoredDocument() ([]byte, error) {
	var doc []byte
	var err error
	if r.dict != nil {
		doc, err = r.dict.Decode(nil, r.doc)
	} else {
		doc, err = s2.Decode(nil, r.doc)
	}
	if err != nil {
		return nil, fmt.Errorf("package %s: decompress document: %w", r.ID, err)
	}
	return doc, nil
}
