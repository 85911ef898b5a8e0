package packagedoc

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// fastYAML reads the plain block YAML nearly every package manifest is
// written in, giving exactly what yaml.v2 (EPR's reader) gives when it
// unmarshals the document into a map[string]any: nested mappings as
// map[any]any, sequences as []any, scalars resolved as yaml.v2 resolves
// them. It is several times faster than yaml.v2 and allocates a fraction
// of what yaml.v2 allocates, which is most of the CPU of reading a folder
// of packages (docs/benchmarks.md, package paths).
//
// It only accepts what it is sure of. Anything else — flow mappings,
// anchors, aliases, tags, directives, document markers, multi-line plain
// or quoted scalars, complex keys, tabs, carriage returns, escapes it
// does not know, duplicate keys, keys that are not strings, merge keys,
// nesting deeper than maxFastDepth, indentation it cannot place — returns
// ok == false, and the caller reads the document with yaml.v2, so the
// result, or the error, is always yaml.v2's. FuzzFastYAML and
// TestFastYAMLMatchesYAMLv2 hold it to that.
//
// Its cost is linear in the document: every line is looked at a bounded
// number of times, and recursion is bounded by maxFastDepth.
func fastYAML(data []byte) (out map[string]any, ok bool) {
	if len(data) > math.MaxInt32 || !fastYAMLChars(data) {
		return nil, false
	}
	p := fastParser{data: data}
	p.split()
	i := p.skip(0)
	if i == len(p.lines) {
		// Only comments and blank lines: yaml.v2 leaves the map nil.
		return nil, true
	}
	if int(p.lines[i].indent) != 0 || isSeqItem(p.lines[i].text) {
		return nil, false
	}
	m, next, ok := p.mapping(i, 0, 0)
	if !ok || p.skip(next) != len(p.lines) {
		return nil, false
	}
	top := make(map[string]any, len(m))
	for k, v := range m {
		ks, ok := k.(string)
		if !ok {
			return nil, false
		}
		top[ks] = v
	}
	return top, true
}

// maxFastDepth bounds the nesting fastYAML follows; deeper documents go to
// yaml.v2.
const maxFastDepth = 64

// maxFastKey is below libyaml's 1,024-character limit on implicit keys.
const maxFastKey = 1000

// fastYAMLChars accepts only what yaml.v2 reads as printable characters
// with "\n" line breaks: no tab (indentation rules), no other line break
// (\r, NEL, LS, PS: TestFastYAMLMatchesYAMLv2), no byte order mark, no control character, valid
// UTF-8 of the planes yaml.v2 accepts.
func fastYAMLChars(data []byte) bool {
	for i := 0; i < len(data); {
		c := data[i]
		if c < utf8.RuneSelf {
			if c != '\n' && (c < 0x20 || c > 0x7e) {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(data[i:])
		// LS and PS are line breaks to yaml.v2.
		if r == utf8.RuneError || r == 0x2028 || r == 0x2029 || !(r >= 0xa0 && r <= 0xd7ff || r >= 0xe000 && r <= 0xfffd && r != 0xfeff) {
			return false
		}
		i += n
	}
	return true
}

type fastLine struct {
	off    int32  // offset of the line's first byte in data
	indent int32  // leading spaces
	text   string // the rest of the line, without its "\n"; "" for blank and comment lines
}

type fastParser struct {
	data  []byte
	lines []fastLine
}

func (p *fastParser) split() {
	n := 1
	for _, c := range p.data {
		if c == '\n' {
			n++
		}
	}
	p.lines = make([]fastLine, 0, n)
	// One copy of the document: lines and the scalars read from them
	// are slices of it.
	doc := string(p.data)
	for off := 0; off < len(p.data); {
		end := off
		for end < len(p.data) && p.data[end] != '\n' {
			end++
		}
		l := fastLine{off: int32(off)}
		ind := off
		for ind < end && p.data[ind] == ' ' {
			ind++
		}
		l.indent = int32(ind - off)
		if ind < end && p.data[ind] != '#' {
			l.text = doc[ind:end]
		}
		p.lines = append(p.lines, l)
		off = end + 1
	}
}

// skip returns the first line from i on that holds something besides
// spaces and a comment.
func (p *fastParser) skip(i int) int {
	for i < len(p.lines) && p.lines[i].text == "" {
		i++
	}
	return i
}

func isSeqItem(t string) bool { return t == "-" || strings.HasPrefix(t, "- ") }

// docMarker reports a line that would be a document marker or a directive.
func docMarker(l fastLine) bool {
	return int(l.indent) == 0 && (strings.HasPrefix(l.text, "---") || strings.HasPrefix(l.text, "...") || strings.HasPrefix(l.text, "%"))
}

// mapping reads a block mapping whose keys are at column indent, from line
// i (a content line at that column), with the text of line i replaced by
// first when first is not empty (a mapping begun on a sequence item's
// line). It returns the mapping and the line after it.
func (p *fastParser) mapping(i, indent, depth int) (map[any]any, int, bool) {
	if depth > maxFastDepth {
		return nil, 0, false
	}
	m := map[any]any{}
	for {
		i = p.skip(i)
		if i == len(p.lines) || int(p.lines[i].indent) < indent {
			return m, i, true
		}
		l := p.lines[i]
		if int(l.indent) > indent || isSeqItem(l.text) || docMarker(l) {
			return nil, 0, false
		}
		key, rest, ok := splitKey(l.text)
		if !ok {
			return nil, 0, false
		}
		k, ok := resolveKey(key)
		if !ok {
			return nil, 0, false
		}
		if _, dup := m[k]; dup {
			return nil, 0, false
		}
		v, next, ok := p.value(i, rest, indent, depth, true)
		if !ok {
			return nil, 0, false
		}
		m[k] = v
		i = next
	}
}

// sequence reads a block sequence whose dashes are at column indent.
func (p *fastParser) sequence(i, indent, depth int) ([]any, int, bool) {
	if depth > maxFastDepth {
		return nil, 0, false
	}
	var s []any
	for {
		i = p.skip(i)
		if i == len(p.lines) || int(p.lines[i].indent) < indent {
			break
		}
		l := p.lines[i]
		if int(l.indent) > indent {
			return nil, 0, false
		}
		if !isSeqItem(l.text) {
			break
		}
		rest := strings.TrimLeft(l.text[1:], " ")
		col := indent + len(l.text) - len(rest)
		if rest != "" && rest[0] != '#' && !isSeqItem(rest) {
			if _, _, isKey := splitKey(rest); isKey {
				// A mapping begun on the item's line, its keys at the
				// column of its first key.
				p.lines[i].indent, p.lines[i].text = int32(col), rest
				m, next, ok := p.mapping(i, col, depth+1)
				if !ok {
					return nil, 0, false
				}
				s = append(s, m)
				i = next
				continue
			}
		}
		if isSeqItem(rest) {
			return nil, 0, false
		}
		v, next, ok := p.value(i, rest, indent, depth, false)
		if !ok {
			return nil, 0, false
		}
		s = append(s, v)
		i = next
	}
	if s == nil {
		s = []any{}
	}
	return s, i, true
}

// value reads what follows a key's colon (inMap) or a sequence item's dash
// on line i: rest is that text. indent is the column of the key or dash.
func (p *fastParser) value(i int, rest string, indent, depth int, inMap bool) (any, int, bool) {
	if rest == "" || rest[0] == '#' {
		// The value is on the next lines, or null.
		j := p.skip(i + 1)
		if j < len(p.lines) {
			l := p.lines[j]
			switch {
			case int(l.indent) > indent:
				if isSeqItem(l.text) {
					return p.sequence(j, int(l.indent), depth+1)
				}
				if docMarker(l) {
					return nil, 0, false
				}
				if _, _, isKey := splitKey(l.text); !isKey {
					return nil, 0, false // a scalar on its own line
				}
				m, next, ok := p.mapping(j, int(l.indent), depth+1)
				return m, next, ok
			case int(l.indent) == indent && inMap && isSeqItem(l.text):
				// A sequence at the key's column (YAML's indentless
				// sequence).
				return p.sequence(j, indent, depth+1)
			}
		}
		return nil, i + 1, true
	}
	var (
		v  any
		ok bool
	)
	next := i + 1
	switch rest[0] {
	case '|', '>':
		var s string
		s, next, ok = p.blockScalar(i, rest, indent)
		return s, next, ok
	case '[':
		v, ok = flowSequence(rest)
	case '\'', '"':
		var s, after string
		s, after, ok = quoted(rest)
		if ok && !trailer(after) {
			ok = false
		}
		v = s
	default:
		var s string
		s, ok = plainValue(rest)
		if ok {
			v = resolvePlain(s)
		}
	}
	if !ok {
		return nil, 0, false
	}
	// A more indented line after a one-line value continues it (a
	// multi-line scalar) or is an error: yaml.v2 decides.
	if j := p.skip(next); j < len(p.lines) && int(p.lines[j].indent) > indent {
		return nil, 0, false
	}
	return v, next, true
}

// trailer reports whether what follows a quoted scalar or a flow sequence
// on its line is only spaces and a comment.
func trailer(s string) bool {
	t := strings.TrimLeft(s, " ")
	return t == "" || (t[0] == '#' && len(t) < len(s))
}

// plainIndicators may not begin a plain scalar (or begin what fastYAML
// leaves to yaml.v2).
const plainIndicators = "-?:,[]{}#&*!|>'\"%@`"

// plainValue returns the plain scalar of a line's rest in block context,
// without its comment and trailing spaces.
func plainValue(rest string) (string, bool) {
	if strings.IndexByte(plainIndicators, rest[0]) >= 0 {
		if rest[0] != '-' || len(rest) == 1 || rest[1] == ' ' {
			return "", false
		}
	}
	if i := strings.Index(rest, " #"); i >= 0 {
		rest = rest[:i]
	}
	rest = strings.TrimRight(rest, " ")
	if strings.Contains(rest, ": ") || strings.HasSuffix(rest, ":") {
		return "", false
	}
	return rest, true
}

// splitKey splits a mapping line into its key (a plain or quoted scalar,
// raw, quotes included) and what follows the colon; ok is false when the
// line is not one fastYAML reads as a key.
func splitKey(t string) (key, rest string, ok bool) {
	var end int // index of the colon
	switch t[0] {
	case '\'', '"':
		_, after, qok := quoted(t)
		if !qok {
			return "", "", false
		}
		a := strings.TrimLeft(after, " ")
		if a == "" || a[0] != ':' || (len(a) > 1 && a[1] != ' ') {
			return "", "", false
		}
		end = len(t) - len(a)
	default:
		if strings.IndexByte(plainIndicators, t[0]) >= 0 {
			return "", "", false
		}
		end = -1
		for j := 0; j < len(t); j++ {
			if t[j] == '#' && j > 0 && t[j-1] == ' ' {
				return "", "", false
			}
			if t[j] == ':' && (j+1 == len(t) || t[j+1] == ' ') {
				end = j
				break
			}
		}
		if end < 0 {
			return "", "", false
		}
	}
	if end > maxFastKey {
		return "", "", false
	}
	return t[:end], strings.TrimLeft(t[end+1:], " "), true
}

// resolveKey reads a raw key as yaml.v2 does; only string keys are ok.
func resolveKey(raw string) (string, bool) {
	if raw[0] == '\'' || raw[0] == '"' {
		s, after, ok := quoted(raw)
		return s, ok && strings.TrimLeft(after, " ") == ""
	}
	k := strings.TrimRight(raw, " ")
	if k == "<<" {
		return "", false
	}
	s, ok := resolvePlain(k).(string)
	return s, ok
}

// quoted reads the single- or double-quoted scalar t begins with, on one
// line, and returns it and what follows its closing quote.
func quoted(t string) (s, after string, ok bool) {
	q := t[0]
	var b strings.Builder
	for j := 1; j < len(t); j++ {
		c := t[j]
		switch {
		case c == q && q == '\'':
			if j+1 < len(t) && t[j+1] == '\'' {
				b.WriteByte('\'')
				j++
				continue
			}
			return b.String(), t[j+1:], true
		case c == q:
			return b.String(), t[j+1:], true
		case c == '\\' && q == '"':
			if j+1 == len(t) {
				return "", "", false // an escaped line break
			}
			e, ok := dqEscapes[t[j+1]]
			if !ok {
				return "", "", false
			}
			b.WriteString(e)
			j++
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false // not closed on this line
}

// dqEscapes are the double-quoted escapes yaml.v2 knows, but the numeric
// ones (\x, \u, \U), left to yaml.v2.
var dqEscapes = map[byte]string{
	'0': "\x00", 'a': "\x07", 'b': "\x08", 't': "\x09", 'n': "\x0a", 'v': "\x0b", 'f': "\x0c",
	'r': "\x0d", 'e': "\x1b", ' ': " ", '"': "\"", '\'': "'", '\\': "\\",
	'N': "\u0085", '_': "\u00a0", 'L': "\u2028", 'P': "\u2029",
}

// flowSequence reads a one-line flow sequence of scalars ("[a, 'b', 1]").
func flowSequence(t string) ([]any, bool) {
	s := []any{}
	j := 1
	for {
		for j < len(t) && t[j] == ' ' {
			j++
		}
		if j == len(t) {
			return nil, false
		}
		if t[j] == ']' && len(s) == 0 {
			return s, trailer(t[j+1:])
		}
		switch t[j] {
		case '\'', '"':
			v, after, ok := quoted(t[j:])
			if !ok {
				return nil, false
			}
			s = append(s, v)
			j = len(t) - len(after)
		default:
			k := j
			for k < len(t) && strings.IndexByte(",[]{}#:", t[k]) < 0 {
				k++
			}
			v := strings.TrimRight(t[j:k], " ")
			if v == "" || strings.IndexByte(plainIndicators, v[0]) >= 0 {
				return nil, false
			}
			s = append(s, resolvePlain(v))
			j = k
		}
		for j < len(t) && t[j] == ' ' {
			j++
		}
		if j == len(t) {
			return nil, false
		}
		switch t[j] {
		case ']':
			return s, trailer(t[j+1:])
		case ',':
			j++
		default:
			return nil, false
		}
	}
}

// blockScalar reads a literal (|) or folded (>) block scalar whose header
// is rest on line i, as libyaml's yaml_parser_scan_block_scalar does; indent
// is the column of the key or dash it belongs to.
func (p *fastParser) blockScalar(i int, rest string, indent int) (string, int, bool) {
	literal := rest[0] == '|'
	chomp := 0
	h := rest[1:]
	if h != "" && (h[0] == '-' || h[0] == '+') {
		chomp = 1
		if h[0] == '-' {
			chomp = -1
		}
		h = h[1:]
	}
	if !trailer(h) {
		return "", 0, false // an indentation indicator, or text
	}
	if i+1 >= len(p.lines) {
		return "", 0, false
	}
	data := p.data
	pos := int(p.lines[i+1].off)
	line := i + 1
	col := 0
	blockIndent := 0
	var s, leadingBreak, trailingBreaks []byte
	// breaks eats indentation spaces and empty lines (libyaml's
	// yaml_parser_scan_block_scalar_breaks).
	breaks := func() {
		maxIndent := 0
		for {
			for (blockIndent == 0 || col < blockIndent) && pos < len(data) && data[pos] == ' ' {
				pos++
				col++
			}
			if col > maxIndent {
				maxIndent = col
			}
			if pos == len(data) || data[pos] != '\n' {
				break
			}
			trailingBreaks = append(trailingBreaks, '\n')
			pos++
			line++
			col = 0
		}
		if blockIndent == 0 {
			blockIndent = max(maxIndent, indent+1, 1)
		}
	}
	breaks()
	leadingBlank := false
	contentLines := 0
	for col == blockIndent && pos < len(data) {
		trailingBlank := data[pos] == ' '
		if !literal && !leadingBlank && !trailingBlank && len(leadingBreak) > 0 && leadingBreak[0] == '\n' {
			if len(trailingBreaks) == 0 {
				s = append(s, ' ')
			}
		} else {
			s = append(s, leadingBreak...)
		}
		leadingBreak = leadingBreak[:0]
		s = append(s, trailingBreaks...)
		trailingBreaks = trailingBreaks[:0]
		leadingBlank = data[pos] == ' '
		end := pos
		for end < len(data) && data[end] != '\n' {
			end++
		}
		s = append(s, data[pos:end]...)
		pos = end
		contentLines++
		if pos < len(data) {
			leadingBreak = append(leadingBreak, '\n')
			pos++
			line++
		}
		col = 0
		breaks()
	}
	if contentLines == 0 {
		return "", 0, false
	}
	if chomp != -1 {
		s = append(s, leadingBreak...)
	}
	if chomp == 1 {
		s = append(s, trailingBreaks...)
	}
	// The scalar ends at the start of line (pos is inside it, past at
	// most its indentation), or with the document. What comes next must
	// be a line fastYAML can place: one less indented than the block.
	if pos >= len(data) {
		return string(s), len(p.lines), true
	}
	if line < len(p.lines) {
		l := p.lines[line]
		if l.text != "" && int(l.indent) >= blockIndent {
			return "", 0, false
		}
		if docMarker(l) {
			return "", 0, false
		}
	}
	return string(s), line, true
}

// yamlStyleFloat is yaml.v2's.
var yamlStyleFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// resolvePlain resolves a plain scalar as yaml.v2's resolve does for an
// untagged scalar decoded into an interface value (timestamps stay
// strings).
func resolvePlain(in string) any {
	if in == "" {
		return nil
	}
	switch in[0] {
	case 'y', 'Y', 'n', 'N', 't', 'T', 'f', 'F', 'o', 'O', '~':
		switch in {
		case "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON":
			return true
		case "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF":
			return false
		case "~":
			return nil
		}
		if in == "null" || in == "Null" || in == "NULL" {
			return nil
		}
		return in
	case '.':
		switch in {
		case ".nan", ".NaN", ".NAN":
			return math.NaN()
		case ".inf", ".Inf", ".INF":
			return math.Inf(1)
		}
		if f, err := strconv.ParseFloat(in, 64); err == nil {
			return f
		}
		return in
	case '+', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		switch in {
		case "+.inf", "+.Inf", "+.INF":
			return math.Inf(1)
		case "-.inf", "-.Inf", "-.INF":
			return math.Inf(-1)
		}
		if strings.Count(in, ".") > 1 {
			// A version (1.2.3): no YAML number has two dots, and a
			// failed parse allocates its error (one per version of
			// every manifest).
			return in
		}
		plain := strings.ReplaceAll(in, "_", "")
		if iv, err := strconv.ParseInt(plain, 0, 64); err == nil {
			if iv == int64(int(iv)) {
				return int(iv)
			}
			return iv
		}
		if uv, err := strconv.ParseUint(plain, 0, 64); err == nil {
			return uv
		}
		if yamlStyleFloat.MatchString(plain) {
			if f, err := strconv.ParseFloat(plain, 64); err == nil {
				return f
			}
		}
		if strings.HasPrefix(plain, "0b") {
			if iv, err := strconv.ParseInt(plain[2:], 2, 64); err == nil {
				if iv == int64(int(iv)) {
					return int(iv)
				}
				return iv
			}
			if uv, err := strconv.ParseUint(plain[2:], 2, 64); err == nil {
				return uv
			}
		} else if strings.HasPrefix(plain, "-0b") {
			if iv, err := strconv.ParseInt("-"+plain[3:], 2, 64); err == nil {
				return int(iv)
			}
		}
		return in
	}
	return in
}
