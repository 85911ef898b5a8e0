package catalog

import (
	"sync"

	"github.com/klauspost/compress/s2"
)

// dictionaries hold one S2 dictionary per package name for a full load:
// the first document of the name the load meets (its first 64 KB, S2's
// limit). The versions of one package share most of their document (the
// same policy templates, data streams, variables and assets under new
// paths), so compressed against a sibling a document shrinks to its
// differences: the documents of the v1 sample's 56 packages, which have
// several versions each, take a fraction of what they take compressed one
// by one. The cost is one raw document per name.
type dictionaries struct {
	mu sync.Mutex
	m  map[string]*s2.Dict
}

// get returns the dictionary of name, made from doc if name has none yet;
// nil when doc is too small for one.
func (ds *dictionaries) get(name string, doc []byte) *s2.Dict {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if d, ok := ds.m[name]; ok {
		return d
	}
	var d *s2.Dict
	if len(doc) >= s2.MinDictSize {
		// MakeDict keeps the slice it is given (with 16 spare bytes), so a
		// copy of its own; matches can only start in the first 64 KB of a
		// document, so that is the part worth keeping.
		n := min(len(doc), s2.MaxDictSize)
		d = s2.MakeDict(append(make([]byte, 0, n+16), doc[:n]...), nil)
	}
	if ds.m == nil {
		ds.m = map[string]*s2.Dict{}
	}
	ds.m[name] = d
	return d
}

// forDecoding replaces the dictionary of every revision by one without
// the encoder's hash table (32 KB per dictionary once used to encode,
// which decoding never reads).
func (ds *dictionaries) forDecoding(revs []*Revision) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	lean := make(map[*s2.Dict]*s2.Dict, len(ds.m))
	for _, d := range ds.m {
		if d == nil {
			continue
		}
		if l := s2.NewDict(d.Bytes()); l != nil {
			lean[d] = l
		} else {
			lean[d] = d // cannot happen for a dictionary MakeDict made; keep it working
		}
	}
	for _, r := range revs {
		if r.dict != nil {
			r.dict = lean[r.dict]
		}
	}
	ds.m = nil
}
