package catalog

import (
	"bytes"
	"encoding/json"

	"pkgstore/internal/pkg/packagedoc"
)

// baseEncoder renders BasePackage JSON as the /search array holds it,
// reusing its buffers from one revision to the next (a load renders 20,000
// of them; a fresh encoder and buffer each cost more than the encoding).
type baseEncoder struct {
	enc *json.Encoder
	out bytes.Buffer
	ind []byte
}

// render returns b's JSON indented one level deeper than the top, as
// json.Encoder with SetIndent("  ", "  ") writes it, without the trailing
// newline. The result is valid until the next call.
func (e *baseEncoder) render(b *packagedoc.BasePackage) ([]byte, error) {
	if e.enc == nil {
		e.enc = json.NewEncoder(&e.out)
		e.enc.SetEscapeHTML(false)
	}
	e.out.Reset()
	if err := e.enc.Encode(b); err != nil {
		return nil, err
	}
	e.ind = indent(e.ind[:0], bytes.TrimSuffix(e.out.Bytes(), []byte("\n")), "  ")
	return e.ind, nil
}

// renderBase encodes a BasePackage as EPR does, indented one level deeper
// so that it can be placed as-is inside the /search array.
func renderBase(b *packagedoc.BasePackage) ([]byte, error) {
	var e baseEncoder
	return e.render(b)
}

// indent appends src, valid JSON, to dst indented as json.Indent(dst, src,
// prefix, "  ") would: EPR's output format (2-space indent, ": " after keys,
// empty objects and arrays kept as {} and []). It is the one indenter of
// the catalog's answers: base forms (prefix "  ", one level inside the
// /search array), stored documents and rewritten ones (prefix "").
//
// json.Indent runs its full validating scanner on every byte; the input
// here is valid already (encoder output, or documents the load validated),
// so this loop only tracks strings and nesting, copying runs of plain bytes
// in one go. White space between tokens is dropped, as json.Indent drops
// it; on invalid input the output is unspecified.
func indent(dst, src []byte, prefix string) []byte {
	const step = "  "
	newline := func(dst []byte, depth int) []byte {
		dst = append(dst, '\n')
		dst = append(dst, prefix...)
		for range depth {
			dst = append(dst, step...)
		}
		return dst
	}
	depth := 0
	for i := 0; i < len(src); {
		c := src[i]
		switch c {
		case '"':
			j := i + 1
			for j < len(src) {
				if k := bytes.IndexAny(src[j:], `"\`); k < 0 {
					j = len(src)
				} else if j += k; src[j] == '\\' {
					j += 2
					continue
				} else {
					j++
				}
				break
			}
			dst = append(dst, src[i:min(j, len(src))]...)
			i = j
			continue
		case '{', '[':
			j := i + 1
			for j < len(src) && isSpace(src[j]) {
				j++
			}
			if j < len(src) && (src[j] == '}' || src[j] == ']') {
				dst = append(dst, c, src[j])
				i = j + 1
				continue
			}
			depth++
			dst = newline(append(dst, c), depth)
		case '}', ']':
			depth--
			dst = append(newline(dst, depth), c)
		case ',':
			dst = newline(append(dst, c), depth)
		case ':':
			dst = append(dst, ':', ' ')
		case ' ', '\t', '\n', '\r':
			// between tokens: dropped
		default:
			dst = append(dst, c)
		}
		i++
	}
	return dst
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
