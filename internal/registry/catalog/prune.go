package catalog

import (
	"encoding"
	"encoding/binary"
	"encoding/json"
	"reflect"
	"strings"
)

// Fast decoding of a full document into docFields.
//
// A real document is about 10 KB, most of it keys docFields never reads
// (assets, vars, streams, inputs, ...), and encoding/json both validates and
// walks all of it. prune makes one hand-written pass that validates the
// whole document as strictly as encoding/json does and copies out only the
// members docFields can read, recursively (a policy template keeps its base
// keys, not its inputs); encoding/json then decodes that small remainder.
// The decoded values are those of decoding the whole document because:
//
//   - a member is dropped only when its key is plain ASCII without escapes
//     and equals no field name case-insensitively, which is exactly the set
//     of keys encoding/json ignores (its key matching is exact, then
//     case-folded; non-ASCII keys can fold onto ASCII names, so they are
//     kept);
//   - kept members are copied verbatim and in order, so duplicate keys,
//     nulls and type errors behave as before;
//   - the field sets come from the Go types themselves (shapeOf), so a field
//     added to packagedoc.BasePackage is kept without touching this file.
//
// Anything prune or the decoder rejects is decoded whole by encoding/json,
// so errors and the handling of malformed documents are encoding/json's
// (EPR's) too; the fast path only ever handles documents that are valid
// JSON objects.

// shape says which members of a JSON value a Go type reads. A nil shape
// keeps the value verbatim.
type shape struct {
	fields map[string]*shape // object members by lower-case key; nil for arrays
	elem   *shape            // array elements; nil for objects
	maxKey int               // longest key in fields
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	docShape        = shapeOf(reflect.TypeFor[docFields](), 0)
)

// shapeOf returns the shape of t: structs become objects with their JSON
// member names, slices and arrays of them arrays, everything else verbatim.
func shapeOf(t reflect.Type, depth int) *shape {
	if depth > 20 {
		panic("catalog: recursive or too deeply nested document type")
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(jsonUnmarshaler) ||
		t.Implements(textUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return nil
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil // []byte is a base64 string
		}
		if e := shapeOf(t.Elem(), depth+1); e != nil {
			return &shape{elem: e}
		}
		return nil
	case reflect.Struct:
		s := &shape{fields: map[string]*shape{}}
		addFields(s, t, depth)
		return s
	}
	return nil
}

// addFields adds the members t reads to s, flattening embedded structs as
// encoding/json does. Where two fields share a key the member is kept
// verbatim: over-keeping is always safe.
func addFields(s *shape, t reflect.Type, depth int) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			addFields(s, ft, depth+1)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		key := strings.ToLower(name)
		sub := shapeOf(f.Type, depth+1)
		if _, dup := s.fields[key]; dup {
			sub = nil
		}
		s.fields[key] = sub
		s.maxKey = max(s.maxKey, len(key))
	}
}

// lookup reports whether a key (raw bytes between the quotes) may be read
// by the type of s, and the shape of its value.
func (s *shape) lookup(key []byte) (keep bool, sub *shape) {
	if len(key) > s.maxKey {
		// Longer than every name: kept only if it might fold onto one.
		for _, c := range key {
			if c == '\\' || c >= 0x80 {
				return true, nil
			}
		}
		return false, nil
	}
	var lower [64]byte
	l := lower[:0]
	if len(key) > len(lower) {
		l = make([]byte, 0, len(key))
	}
	for _, c := range key {
		if c == '\\' || c >= 0x80 {
			return true, nil
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		l = append(l, c)
	}
	sub, ok := s.fields[string(l)]
	return ok, sub
}

// maxPruneDepth is below encoding/json's nesting limit (10000) so that the
// fast path never accepts what the decoder would refuse.
const maxPruneDepth = 1000

// pruner validates a document and writes its kept members to out.
type pruner struct {
	b     []byte
	out   []byte
	depth int
}

// prune appends the members of doc that docFields reads to out[:0] and
// reports whether doc is one valid JSON object (with optional surrounding
// white space).
func prune(doc, out []byte) ([]byte, bool) {
	p := pruner{b: doc, out: out[:0]}
	i := p.ws(0)
	if i >= len(doc) || doc[i] != '{' {
		return p.out, false
	}
	i = p.object(i, docShape)
	if i < 0 {
		return p.out, false
	}
	return p.out, p.ws(i) == len(doc)
}

// ws skips white space from i.
func (p *pruner) ws(i int) int {
	for i < len(p.b) {
		switch p.b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// object reads the object at b[i] == '{', writes its members s keeps and
// returns the index after it, or -1 if it is not valid JSON.
func (p *pruner) object(i int, s *shape) int {
	if p.depth++; p.depth > maxPruneDepth {
		return -1
	}
	defer func() { p.depth-- }()
	p.out = append(p.out, '{')
	first := true
	i = p.ws(i + 1)
	if i < len(p.b) && p.b[i] == '}' {
		p.out = append(p.out, '}')
		return i + 1
	}
	for {
		if i >= len(p.b) || p.b[i] != '"' {
			return -1
		}
		ks := i
		if i = p.str(i); i < 0 {
			return -1
		}
		key := p.b[ks:i]
		if i = p.ws(i); i >= len(p.b) || p.b[i] != ':' {
			return -1
		}
		i = p.ws(i + 1)
		keep, sub := s.lookup(key[1 : len(key)-1])
		if keep {
			if !first {
				p.out = append(p.out, ',')
			}
			first = false
			p.out = append(p.out, key...)
			p.out = append(p.out, ':')
			i = p.keptValue(i, sub)
		} else {
			i = p.value(i)
		}
		if i < 0 {
			return -1
		}
		if i = p.ws(i); i >= len(p.b) {
			return -1
		}
		switch p.b[i] {
		case ',':
			i = p.ws(i + 1)
		case '}':
			p.out = append(p.out, '}')
			return i + 1
		default:
			return -1
		}
	}
}

// keptValue writes the value at i, pruned to s when s matches its kind.
func (p *pruner) keptValue(i int, s *shape) int {
	if s != nil && i < len(p.b) {
		switch {
		case p.b[i] == '{' && s.fields != nil:
			return p.object(i, s)
		case p.b[i] == '[' && s.elem != nil:
			return p.array(i, s.elem)
		}
	}
	start := i
	if i = p.value(i); i >= 0 {
		p.out = append(p.out, p.b[start:i]...)
	}
	return i
}

// array writes the array at b[i] == '[' with each element pruned to elem.
func (p *pruner) array(i int, elem *shape) int {
	if p.depth++; p.depth > maxPruneDepth {
		return -1
	}
	defer func() { p.depth-- }()
	p.out = append(p.out, '[')
	i = p.ws(i + 1)
	if i < len(p.b) && p.b[i] == ']' {
		p.out = append(p.out, ']')
		return i + 1
	}
	for {
		if i = p.keptValue(i, elem); i < 0 {
			return -1
		}
		if i = p.ws(i); i >= len(p.b) {
			return -1
		}
		switch p.b[i] {
		case ',':
			p.out = append(p.out, ',')
			i = p.ws(i + 1)
		case ']':
			p.out = append(p.out, ']')
			return i + 1
		default:
			return -1
		}
	}
}

// value validates the value starting at i (no leading white space) and
// returns the index after it, or -1.
func (p *pruner) value(i int) int {
	b := p.b
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		return p.str(i)
	case c == '{':
		return p.skipObject(i)
	case c == '[':
		return p.skipArray(i)
	case c == '-' || '0' <= c && c <= '9':
		return p.number(i)
	case c == 't':
		return p.literal(i, "true")
	case c == 'f':
		return p.literal(i, "false")
	case c == 'n':
		return p.literal(i, "null")
	}
	return -1
}

func (p *pruner) skipObject(i int) int {
	if p.depth++; p.depth > maxPruneDepth {
		return -1
	}
	defer func() { p.depth-- }()
	b := p.b
	i = p.ws(i + 1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		if i = p.str(i); i < 0 {
			return -1
		}
		if i = p.ws(i); i >= len(b) || b[i] != ':' {
			return -1
		}
		if i = p.value(p.ws(i + 1)); i < 0 {
			return -1
		}
		if i = p.ws(i); i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = p.ws(i + 1)
		case '}':
			return i + 1
		default:
			return -1
		}
	}
}

func (p *pruner) skipArray(i int) int {
	if p.depth++; p.depth > maxPruneDepth {
		return -1
	}
	defer func() { p.depth-- }()
	b := p.b
	i = p.ws(i + 1)
	if i < len(b) && b[i] == ']' {
		return i + 1
	}
	for {
		if i = p.value(i); i < 0 {
			return -1
		}
		if i = p.ws(i); i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = p.ws(i + 1)
		case ']':
			return i + 1
		default:
			return -1
		}
	}
}

// strPlain marks the bytes a string may hold unescaped.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// Word-at-a-time tests: hasZeroByte is exact about whether some byte of v
// is zero.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

func hasZeroByte(v uint64) bool { return (v-ones)&^v&highs != 0 }

// hasStringStop reports whether a byte of w is not plain inside a string:
// '"', '\\' or a control character (below 0x20; (v-0x20..)&^v&0x80.. is
// exact about whether some byte is below 0x20).
func hasStringStop(w uint64) bool {
	return (w-0x20*ones)&^w&highs != 0 || hasZeroByte(w^('"'*ones)) || hasZeroByte(w^('\\'*ones))
}

// str validates the string at b[i] == '"' as encoding/json does (control
// characters and unknown escapes are errors; invalid UTF-8 is not).
func (p *pruner) str(i int) int {
	b := p.b
	i++
	for {
		for i+8 <= len(b) && !hasStringStop(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && strPlain[b[i]] {
			i++
		}
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
			i++
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+4 >= len(b) {
					return -1
				}
				for _, h := range b[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return -1
					}
				}
				i += 5
			default:
				return -1
			}
		default: // control character
			return -1
		}
	}
}

// number validates -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?; what
// follows it is checked by the caller.
func (p *pruner) number(i int) int {
	b := p.b
	digits := func(i int) (int, bool) {
		s := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i, i > s
	}
	if b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return -1
	}
	if b[i] == '0' {
		i++
	} else {
		var ok bool
		if i, ok = digits(i); !ok {
			return -1
		}
	}
	if i < len(b) && b[i] == '.' {
		var ok bool
		if i, ok = digits(i + 1); !ok {
			return -1
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		var ok bool
		if i, ok = digits(i); !ok {
			return -1
		}
	}
	return i
}

func (p *pruner) literal(i int, lit string) int {
	if len(p.b)-i < len(lit) || string(p.b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}
