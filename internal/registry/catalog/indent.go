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
	e.ind = indentCompact(e.ind[:0], bytes.TrimSuffix(e.out.Bytes(), []byte("\n")))
	return e.ind, nil
}

// renderBase encodes a BasePackage as EPR does, indented one level deeper
// so that it can be placed as-is inside the /search array.
func renderBase(b *packagedoc.BasePackage) ([]byte, error) {
	var e baseEncoder
	return e.render(b)
}

// indentCompact appends src, compact JSON as encoding/json writes it (valid,
// no white space between tokens), to dst indented as json.Indent(dst, src,
// "  ", "  ") would. json.Indent runs the full validating scanner on every
// byte; the encoder's output needs none of that, and this loop copies runs
// of plain bytes in one go.
func indentCompact(dst, src []byte) []byte {
	const prefix, indent = "  ", "  "
	newline := func(dst []byte, depth int) []byte {
		dst = append(dst, '\n')
		dst = append(dst, prefix...)
		for range depth {
			dst = append(dst, indent...)
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
			if i+1 < len(src) && (src[i+1] == '}' || src[i+1] == ']') {
				dst = append(dst, c, src[i+1])
				i += 2
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
		default:
			dst = append(dst, c)
		}
		i++
	}
	return dst
}
