// Package catalog is the registry's in-memory view of one index cursor: the
// fields every /search and /categories filter needs, parsed once at load, the
// /search form (BasePackage) of each revision as ready-made JSON bytes, and
// the full package document kept compressed.
//
// Why not keep parsed documents: a 20,000-revision index of real package
// documents is hundreds of megabytes as Go values, while the filter fields
// plus pre-rendered base JSON fit in a few kilobytes per revision and the
// full documents compress about 3-4x with S2; a full load compresses each
// against a dictionary of its package (dict.go), which pays where packages
// have many versions (the synthetic 20,000-revision index, 56 packages:
// 192 MB of documents in 10.6 MB with the dictionaries, against 53 MB
// one by one) and breaks even with few (the v1 sample's five versions per
// package). Decompression costs tens of microseconds and happens only on
// /package/N/V/. Fetching documents from
// the internal bucket on demand was rejected because an index written by
// someone else (the original infrastructure) has no per-package documents.
//
// A Catalog is immutable once built; a reload builds a new one and the
// registry swaps the pointer, so requests never see a half-applied change.
package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/Masterminds/semver/v3"
	"github.com/klauspost/compress/s2"

	"pkgstore/internal/pkg/packagedoc"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/publish/index"
)

// Revision is one package revision of the catalog. It is shared between
// catalogs built from one another and never modified after creation.
type Revision struct {
	ID packageid.ID

	version    *semver.Version
	prerelease bool // the version has a semver prerelease tag
	major0     bool
	release    string
	typ        string
	kibana     *semver.Constraints
	agent      *semver.Constraints
	// the constraints' text, as the index gives it (the snapshot keeps it)
	kibanaSrc, agentSrc string
	caps                []string
	categories          []string
	templates           []templateInfo
	spec                *semver.Version // format_version truncated to major.minor.0; nil when absent

	hasFields, hasDatasets bool
	fields, datasets       []string

	deprecated *packagedoc.Deprecated // the revision's own notice

	// indexer is which of EPR's combined indexers holds the revision
	// (SetIndexer): a search runs in each on its own (search.go).
	indexer uint8

	base []byte   // BasePackage JSON indented as an element of the /search array
	doc  []byte   // S2-compressed full document as found in the index
	dict *s2.Dict // the dictionary doc was compressed with, or nil
	// ext, when set, reads the document instead of doc, which is then
	// empty (Parser.RevisionAt: documents kept on disk, not in memory).
	ext DocumentSource
}

type templateInfo struct {
	name       string
	categories []string
}

// SetIndexer says which of EPR's combined indexers holds r: 0 the store
// (the default), then the package paths' zips (1) and their folders (2),
// as EPR orders them. /search runs in each indexer on its own (latest
// selection and category filter included) and then keeps the newest
// version of each name across them, as EPR's CombinedIndexer does. Call
// it before r is added to a catalog that is served.
func (r *Revision) SetIndexer(n uint8) { r.indexer = n }

// Indexer returns what SetIndexer set.
func (r *Revision) Indexer() uint8 { return r.indexer }

// Version returns the revision's parsed version.
func (r *Revision) Version() *semver.Version { return r.version }

// Categories returns the revision's package-level categories.
func (r *Revision) Categories() []string { return r.categories }

// docFields is what a full document is decoded into at load: the base form
// plus the only full-document field a filter needs.
type docFields struct {
	packagedoc.BasePackage
	FormatVersion string `json:"format_version"`
}

// NewRevision parses one index entry. It checks what EPR's unmarshalling
// checks (strict semver version, parseable constraints, strict semver
// format_version) so that an index we accept EPR accepts too.
func NewRevision(e index.Entry) (*Revision, error) {
	return newRevisionBuf(e, &buffers{})
}

// buffers are a parser's reusable scratch space.
type buffers struct {
	compressed []byte // s2 output
	pruned     []byte // prune output
	base       baseEncoder
	// Parsed constraints by their text: an index repeats a few dozen
	// constraint strings thousands of times, and Constraints is read-only
	// once parsed (Check has a value receiver), so revisions can share one.
	constraints map[string]*semver.Constraints
	// strs interns the short strings revisions keep (names, categories,
	// capabilities, template and field names): a few hundred distinct
	// values repeated over thousands of revisions.
	strs map[string]string
	// slab, when set, receives the bytes revisions keep (see keep).
	slab *slab
	// dicts, when set, gives the S2 dictionary of a package name (see
	// dictionaries).
	dicts *dictionaries
	// noDoc leaves the document out of the revision (external.go).
	noDoc bool
}

// intern returns the first copy of s seen by these buffers.
func (b *buffers) intern(s string) string {
	if v, ok := b.strs[s]; ok {
		return v
	}
	if b.strs == nil {
		b.strs = map[string]string{}
	}
	b.strs[s] = s
	return s
}

// internAll interns every element of ss in place.
func (b *buffers) internAll(ss []string) []string {
	for i, s := range ss {
		ss[i] = b.intern(s)
	}
	return ss
}

// keep returns a copy of p that the revision may hold: a slice of the
// slab when there is one, otherwise an exact-size allocation (encoders
// return slices of larger buffers whose spare capacity would otherwise stay
// alive with the catalog).
func (b *buffers) keep(p []byte) []byte {
	if b.slab != nil {
		return b.slab.copy(p)
	}
	return bytes.Clone(p)
}

// slab hands out the bytes a load keeps (compressed documents, base JSON)
// from large chunks: one allocation per chunk instead of two per revision,
// no size-class rounding, and no zeroing of memory that is overwritten at
// once. A chunk lives as long as any revision holding part of it, which a
// full load bounds: the next full load drops them all together.
type slab struct {
	chunk []byte
}

// slabChunk is the chunk size; larger items get their own allocation.
const slabChunk = 1 << 20

// alloc returns n bytes of the slab to fill (n at most slabChunk).
func (s *slab) alloc(n int) []byte {
	if cap(s.chunk)-len(s.chunk) < n {
		s.chunk = make([]byte, 0, slabChunk)
	}
	m := len(s.chunk)
	s.chunk = s.chunk[:m+n]
	return s.chunk[m : m+n : m+n]
}

func (s *slab) copy(p []byte) []byte {
	if len(p) > slabChunk/8 {
		return bytes.Clone(p)
	}
	if cap(s.chunk)-len(s.chunk) < len(p) {
		s.chunk = make([]byte, 0, slabChunk)
	}
	n := len(s.chunk)
	s.chunk = append(s.chunk, p...)
	return s.chunk[n : n+len(p) : n+len(p)]
}

// constraint parses c, reusing an earlier parse of the same text.
func (b *buffers) constraint(c string) (*semver.Constraints, error) {
	if sc, ok := b.constraints[c]; ok {
		return sc, nil
	}
	sc, err := semver.NewConstraint(c)
	if err != nil {
		return nil, err
	}
	if b.constraints == nil {
		b.constraints = map[string]*semver.Constraints{}
	}
	b.constraints[c] = sc
	return sc, nil
}

// newRevisionBuf is NewRevision with reusable buffers.
// A zero e.ID takes the identity from the document.
func newRevisionBuf(e index.Entry, bufs *buffers) (*Revision, error) {
	var d docFields
	if err := decodeFields(e.Manifest, &d, bufs); err != nil {
		return nil, fmt.Errorf("package_manifest %s: %w", e.ID, err)
	}
	if e.ID == (packageid.ID{}) {
		if d.Name == "" || d.Version == "" {
			return nil, errors.New("package_manifest without name or version")
		}
		e.ID = packageid.ID{Name: d.Name, Version: d.Version}
	}
	return revisionFrom(e, &d, &d, bufs)
}

// revisionFrom makes the revision of e from its decoded fields: kept is
// what the revision may hold on to, d what its /search form is rendered
// from (the same fields; for RevisionOf, kept is a copy).
func revisionFrom(e index.Entry, kept, d *docFields, bufs *buffers) (*Revision, error) {
	r, err := newRevision(e.ID, kept, bufs)
	if err != nil {
		return nil, err
	}
	id := r.ID
	base, err := bufs.base.render(&d.BasePackage)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", e.ID, err)
	}
	r.base = bufs.keep(base)
	if bufs.noDoc {
		return r, nil
	}
	if n := s2.MaxEncodedLen(len(e.Manifest)); len(bufs.compressed) < n {
		bufs.compressed = make([]byte, n)
	}
	if bufs.dicts != nil {
		r.dict = bufs.dicts.get(id.Name, e.Manifest)
	}
	if r.dict != nil {
		r.doc = bufs.keep(r.dict.Encode(bufs.compressed, e.Manifest))
	} else {
		r.doc = bufs.keep(s2.Encode(bufs.compressed, e.Manifest))
	}
	return r, nil
}

// decodeFields decodes doc into d: through prune when doc is a valid JSON
// object, otherwise (and whenever the fast path fails) by decoding the
// whole document, so that malformed documents get encoding/json's (and so
// EPR's) verdict and error.
func decodeFields(doc []byte, d *docFields, bufs *buffers) error {
	pruned, ok := prune(doc, bufs.pruned)
	bufs.pruned = pruned[:0]
	if ok && json.Unmarshal(pruned, d) == nil {
		return nil
	}
	*d = docFields{}
	return json.Unmarshal(doc, d)
}

func newRevision(id packageid.ID, d *docFields, bufs *buffers) (*Revision, error) {
	if d.Name != id.Name || d.Version != id.Version {
		return nil, fmt.Errorf("package %s: document names %s-%s", id, d.Name, d.Version)
	}
	v, err := semver.StrictNewVersion(d.Version)
	if err != nil {
		return nil, fmt.Errorf("package %s: version: %w", id, err)
	}
	id.Name = bufs.intern(id.Name)
	r := &Revision{
		ID:         id,
		version:    v,
		prerelease: v.Prerelease() != "",
		major0:     v.Major() == 0,
		release:    bufs.intern(d.Release),
		typ:        bufs.intern(d.Type),
		categories: bufs.internAll(d.Categories),
		deprecated: d.Deprecated,
	}
	if r.typ == "" {
		r.typ = "integration"
	}
	if c := d.Conditions; c != nil {
		// A kibana or agent block without a version is an empty
		// constraint, which EPR refuses as it refuses any it cannot parse.
		if c.Kibana != nil {
			r.kibanaSrc = bufs.intern(c.Kibana.Version)
			if r.kibana, err = bufs.constraint(c.Kibana.Version); err != nil {
				return nil, fmt.Errorf("package %s: conditions.kibana.version %q: %w", id, c.Kibana.Version, err)
			}
		}
		if c.Agent != nil {
			r.agentSrc = bufs.intern(c.Agent.Version)
			if r.agent, err = bufs.constraint(c.Agent.Version); err != nil {
				return nil, fmt.Errorf("package %s: conditions.agent.version %q: %w", id, c.Agent.Version, err)
			}
		}
		if c.Elastic != nil {
			r.caps = bufs.internAll(c.Elastic.Capabilities)
		}
	}
	if d.FormatVersion != "" {
		fv, err := semver.StrictNewVersion(d.FormatVersion)
		if err != nil {
			return nil, fmt.Errorf("package %s: format_version: %w", id, err)
		}
		r.spec = semver.New(fv.Major(), fv.Minor(), 0, "", "")
	}
	for _, t := range d.BasePolicyTemplates {
		r.templates = append(r.templates, templateInfo{name: bufs.intern(t.Name), categories: bufs.internAll(t.Categories)})
	}
	if disc := d.Discovery; disc != nil {
		r.hasFields = len(disc.Fields) > 0
		r.hasDatasets = len(disc.Datasets) > 0
		for _, f := range disc.Fields {
			r.fields = append(r.fields, bufs.intern(f.Name))
		}
		for _, ds := range disc.Datasets {
			r.datasets = append(r.datasets, bufs.intern(ds.Name))
		}
	}
	return r, nil
}

// Catalog is an immutable snapshot of one index cursor.
type Catalog struct {
	cursor string
	// source says where a full load read the catalog from ("" when
	// built otherwise): see Source.
	source string
	revs   []*Revision // index order: EPR's tie-break for equal versions
	// all is revs with the copies other indexers hold (Builder.Add), in
	// order; nil when there are none.
	all []*Revision
	// groups are the searched revisions split by indexer
	// (Revision.SetIndexer), in indexer order; nil when every revision
	// is in one.
	groups [][]*Revision
	byID   map[packageid.ID]*Revision
	// effective deprecation per name (epr-api.md §2.10) and the re-rendered
	// base bytes of revisions whose notice differs from their own.
	deprecation map[string]*packagedoc.Deprecated
	baseOver    map[*Revision][]byte
}

// Empty returns a catalog with no packages (no index written yet).
func Empty() *Catalog {
	return &Catalog{byID: map[packageid.ID]*Revision{}}
}

// Cursor returns the index cursor the catalog was built from ("" if none).
func (c *Catalog) Cursor() string { return c.cursor }

// Len returns the number of revisions.
func (c *Catalog) Len() int { return len(c.revs) }

// Lookup returns the revision name-version, if present.
func (c *Catalog) Lookup(id packageid.ID) (*Revision, bool) {
	r, ok := c.byID[id]
	return r, ok
}

// Builder accumulates revisions in index order; the first of a
// name-version wins, as in EPR.
type Builder struct {
	c *Catalog
	// all is every revision added, in order, with the copies of a
	// NAME-VERSION that another indexer already serves (shadows: each
	// indexer searches its own copy); shadowSeen dedupes them per
	// indexer.
	all        []*Revision
	shadowSeen map[shadowKey]bool
}

type shadowKey struct {
	id      packageid.ID
	indexer uint8
}

// NewBuilder starts a catalog for cursor.
func NewBuilder(cursor string, sizeHint int) *Builder {
	return &Builder{c: &Catalog{
		cursor: cursor,
		revs:   make([]*Revision, 0, sizeHint),
		byID:   make(map[packageid.ID]*Revision, sizeHint),
	}}
}

// Add appends r unless its name-version is already present. A copy from
// another indexer (Revision.SetIndexer) is not served but still searched
// in its indexer, as EPR's combined indexer searches each of its own.
func (b *Builder) Add(r *Revision) {
	if first, dup := b.c.byID[r.ID]; dup {
		k := shadowKey{r.ID, r.indexer}
		if first.indexer != r.indexer && !b.shadowSeen[k] {
			if b.shadowSeen == nil {
				b.shadowSeen = map[shadowKey]bool{}
				b.all = append([]*Revision(nil), b.c.revs...)
			}
			b.shadowSeen[k] = true
			b.all = append(b.all, r)
		}
		return
	}
	if b.all != nil {
		b.all = append(b.all, r)
	}
	b.c.byID[r.ID] = r
	b.c.revs = append(b.c.revs, r)
}

// Finish propagates deprecation notices and returns the catalog; the
// builder must not be used afterwards.
func (b *Builder) Finish() (*Catalog, error) {
	c := b.c
	b.c = nil
	if err := c.propagateDeprecation(); err != nil {
		return nil, err
	}
	c.all = b.all
	c.groups = groupByIndexer(c.searched())
	return c, nil
}

// searched returns the revisions searches run over: revs and the copies
// other indexers hold.
func (c *Catalog) searched() []*Revision {
	if c.all != nil {
		return c.all
	}
	return c.revs
}

// groupByIndexer splits revs by indexer, each group in index order, or
// returns nil when every revision is in the same indexer.
func groupByIndexer(revs []*Revision) [][]*Revision {
	var counts [256]int
	n := 0
	for _, r := range revs {
		if counts[r.indexer] == 0 {
			n++
		}
		counts[r.indexer]++
	}
	if n < 2 {
		return nil
	}
	var groups [][]*Revision
	at := map[uint8]int{}
	for i, k := range counts {
		if k > 0 {
			at[uint8(i)] = len(groups)
			groups = append(groups, make([]*Revision, 0, k))
		}
	}
	for _, r := range revs {
		g := at[r.indexer]
		groups[g] = append(groups[g], r)
	}
	return groups
}

// WithDelta returns a new catalog for cursor: c with d applied as EPR's
// incremental update does (epr-api.md §3.3): removed dropped, updated
// replacing present entries only, added appended when absent.
func (c *Catalog) WithDelta(cursor string, d *index.Delta) (*Catalog, error) {
	removed := make(map[packageid.ID]bool, len(d.Removed))
	for _, id := range d.Removed {
		removed[id] = true
	}
	updated := make(map[packageid.ID]*Revision, len(d.Updated))
	for _, e := range d.Updated {
		r, err := NewRevision(e)
		if err != nil {
			return nil, err
		}
		updated[e.ID] = r
	}
	b := NewBuilder(cursor, len(c.revs)+len(d.Added))
	b.c.source = c.source // the origin of the full load under the deltas
	for _, r := range c.revs {
		if removed[r.ID] {
			continue
		}
		if u, ok := updated[r.ID]; ok {
			r = u
		}
		b.Add(r)
	}
	for _, e := range d.Added {
		if _, ok := b.c.byID[e.ID]; ok {
			continue
		}
		r, err := NewRevision(e)
		if err != nil {
			return nil, err
		}
		b.Add(r)
	}
	return b.Finish()
}

// propagateDeprecation stamps the notice of the highest deprecated version
// of each name onto every version of that name (epr-api.md §2.10).
func (c *Catalog) propagateDeprecation() error {
	best := map[string]*Revision{}
	for _, r := range c.revs {
		if r.deprecated == nil {
			continue
		}
		if b, ok := best[r.ID.Name]; !ok || r.version.GreaterThan(b.version) {
			best[r.ID.Name] = r
		}
	}
	if len(best) == 0 {
		return nil
	}
	c.deprecation = make(map[string]*packagedoc.Deprecated, len(best))
	c.baseOver = map[*Revision][]byte{}
	for name, r := range best {
		c.deprecation[name] = r.deprecated
	}
	for _, r := range c.revs {
		dep, ok := c.deprecation[r.ID.Name]
		if !ok || r.deprecated == dep {
			continue
		}
		b, err := rewriteBase(r.base, func(bp *packagedoc.BasePackage) { bp.Deprecated = dep })
		if err != nil {
			return fmt.Errorf("package %s: %w", r.ID, err)
		}
		c.baseOver[r] = b
	}
	return nil
}

// rewriteBase decodes pre-rendered base bytes, lets edit change them and
// renders them again. Base bytes are produced by renderBase from the same
// struct, so the round trip loses nothing.
func rewriteBase(base []byte, edit func(*packagedoc.BasePackage)) ([]byte, error) {
	var bp packagedoc.BasePackage
	if err := json.Unmarshal(base, &bp); err != nil {
		return nil, err
	}
	edit(&bp)
	return renderBase(&bp)
}

// baseBytes returns r's /search JSON in this catalog (with propagated
// deprecation).
func (c *Catalog) baseBytes(r *Revision) []byte {
	if b, ok := c.baseOver[r]; ok {
		return b
	}
	return r.base
}

// Document returns the full package document of r as served at
// /package/N/V/, with the propagated deprecation notice.
func (c *Catalog) Document(r *Revision) ([]byte, error) {
	var doc []byte
	var err error
	if r.ext != nil {
		doc, err = r.ext.Document()
		if err != nil {
			return nil, fmt.Errorf("package %s: %w", r.ID, err)
		}
	} else if r.dict != nil {
		doc, err = r.dict.Decode(nil, r.doc)
	} else {
		doc, err = s2.Decode(nil, r.doc)
	}
	if err != nil {
		return nil, fmt.Errorf("package %s: decompress document: %w", r.ID, err)
	}
	if dep, ok := c.deprecation[r.ID.Name]; ok && dep != r.deprecated {
		return setDeprecated(doc, dep)
	}
	return reformat(doc)
}

// reformat makes sure a stored document is in EPR's output format (2-space
// indent, trailing newline) whatever formatting the index used.
func reformat(doc []byte) ([]byte, error) {
	if bytes.HasPrefix(doc, []byte("{\n  \"")) && bytes.HasSuffix(doc, []byte("}\n")) {
		return doc, nil
	}
	// doc is valid JSON: the load validated it (decodeFields).
	src := bytes.TrimSpace(doc)
	return append(indent(make([]byte, 0, len(src)+len(src)/4), src, ""), '\n'), nil
}

// keysBeforeDeprecated are the top-level keys EPR emits before "deprecated".
var keysBeforeDeprecated = map[string]bool{
	"name": true, "title": true, "version": true, "release": true, "source": true,
	"description": true, "type": true, "download": true, "path": true, "icons": true,
	"policy_templates_behavior": true, "conditions": true, "owner": true,
	"categories": true, "signature_path": true, "discovery": true,
}

// setDeprecated replaces or inserts the top-level "deprecated" key of a
// document, keeping every other key and its order untouched (documents may
// hold keys this program does not model).
func setDeprecated(doc []byte, dep *packagedoc.Deprecated) ([]byte, error) {
	var depBuf bytes.Buffer
	enc := json.NewEncoder(&depBuf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(dep); err != nil {
		return nil, err
	}
	depJSON := json.RawMessage(bytes.TrimSpace(depBuf.Bytes()))
	dec := json.NewDecoder(bytes.NewReader(doc))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("document is not a JSON object")
	}
	type kv struct {
		k string
		v json.RawMessage
	}
	var kvs []kv
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		kvs = append(kvs, kv{tok.(string), v})
	}
	done := false
	for i := range kvs {
		if kvs[i].k == "deprecated" {
			kvs[i].v = depJSON
			done = true
		}
	}
	if !done {
		at := 0
		for i, e := range kvs {
			if keysBeforeDeprecated[e.k] {
				at = i + 1
			}
		}
		kvs = append(kvs[:at], append([]kv{{"deprecated", depJSON}}, kvs[at:]...)...)
	}
	var compact bytes.Buffer
	compact.WriteByte('{')
	for i, e := range kvs {
		if i > 0 {
			compact.WriteByte(',')
		}
		k, _ := json.Marshal(e.k)
		compact.Write(k)
		compact.WriteByte(':')
		if err := json.Compact(&compact, e.v); err != nil {
			return nil, err
		}
	}
	compact.WriteByte('}')
	// compact is valid JSON: json.Compact checked every value.
	return append(indent(nil, compact.Bytes(), ""), '\n'), nil
}

// Footprint returns the bytes held for documents (compressed, with the
// dictionaries they need) and for pre-rendered base JSON, for capacity
// planning and benchmarks.
func (c *Catalog) Footprint() (docBytes, baseBytes int) {
	dicts := map[*s2.Dict]bool{}
	for _, r := range c.revs {
		docBytes += len(r.doc)
		baseBytes += len(r.base)
		if r.dict != nil && !dicts[r.dict] {
			dicts[r.dict] = true
			docBytes += len(r.dict.Bytes())
		}
	}
	return docBytes, baseBytes
}

// Check reports why EPR's storage indexer would refuse to load e (and so
// every index holding it), or nil.
func Check(e index.Entry) error {
	_, err := NewRevision(e)
	return err
}

// Merge returns a catalog for cursor holding the revisions of cats in
// order, the first of a NAME-VERSION winning: EPR's combined indexer
// (storage first, then the package paths' zips, then their folders).
// Revisions are shared, not copied.
func Merge(cursor string, cats ...*Catalog) (*Catalog, error) {
	n := 0
	for _, c := range cats {
		n += len(c.revs)
	}
	b := NewBuilder(cursor, n)
	for _, c := range cats {
		for _, r := range c.searched() {
			b.Add(r)
		}
	}
	return b.Finish()
}

// Parser parses revisions one after another with reusable buffers, shared
// tables of parsed constraints and interned strings, and bytes kept in
// large chunks: revisions built by one Parser cost less memory than
// NewRevision's. It is not safe for concurrent use (one per goroutine).
type Parser struct {
	b buffers
}

// NewParser returns a Parser.
func NewParser() *Parser { return &Parser{b: buffers{slab: &slab{}}} }

// Revision is NewRevision with the parser's buffers.
func (p *Parser) Revision(e index.Entry) (*Revision, error) { return newRevisionBuf(e, &p.b) }

// RevisionOf is Revision for a document its caller has just built and
// encoded: fields is what decoding doc gives (packagedoc.Package.Decoded,
// with the document's format_version), so doc is only compressed, not
// decoded again. What the revision keeps of fields is copied (they may be
// slices of a much larger manifest); doc is copied too.
func (p *Parser) RevisionOf(id packageid.ID, fields packagedoc.BasePackage, formatVersion string, doc []byte) (*Revision, error) {
	d := docFields{BasePackage: fields, FormatVersion: formatVersion}
	kept := retained(&d)
	return revisionFrom(index.Entry{ID: id, Manifest: doc}, &kept, &d, &p.b)
}
