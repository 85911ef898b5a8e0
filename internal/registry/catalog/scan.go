package catalog

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// The bufio helpers below serve reduceDoc, the decoder of documents the fast
// path (prune) refuses; they keep that path's behaviour exactly as it was.

// scanObject reads the members of an object whose '{' was consumed. For
// each key, member decides: it consumes the value itself (true) or lets
// scanObject skip it (false).
func scanObject(r *bufio.Reader, member func(key []byte) (bool, error)) error {
	for first := true; ; first = false {
		c, err := next(r)
		if err != nil {
			return err
		}
		if c == '}' {
			return nil
		}
		if !first {
			if c != ',' {
				return fmt.Errorf("expected ',' or '}', found %q", c)
			}
			if c, err = next(r); err != nil {
				return err
			}
		}
		if c != '"' {
			return fmt.Errorf("expected a key, found %q", c)
		}
		r.UnreadByte()
		key, err := scanValue(r, nil)
		if err != nil {
			return err
		}
		if err := expect(r, ':'); err != nil {
			return err
		}
		done, err := member(key)
		if err != nil {
			return err
		}
		if !done {
			if _, err := scanValue(r, io.Discard); err != nil {
				return err
			}
		}
	}
}

// scanArray reads the elements of an array whose '[' was consumed.
func scanArray(r *bufio.Reader, elem func() error) error {
	for first := true; ; first = false {
		c, err := next(r)
		if err != nil {
			return err
		}
		if c == ']' {
			return nil
		}
		if !first {
			if c != ',' {
				return fmt.Errorf("expected ',' or ']', found %q", c)
			}
		} else {
			r.UnreadByte()
		}
		if err := elem(); err != nil {
			return err
		}
	}
}

// scanValue reads one JSON value after optional white space and returns
// its bytes; with discard set it only skips it and returns nil.
func scanValue(r *bufio.Reader, discard io.Writer) ([]byte, error) {
	c, err := next(r)
	if err != nil {
		return nil, err
	}
	var out []byte
	keep := discard == nil
	add := func(b byte) {
		if keep {
			out = append(out, b)
		}
	}
	add(c)
	switch c {
	case '"':
		return out, scanString(r, &out, keep)
	case '{', '[':
	default:
		// Literal or number: up to the next delimiter.
		for {
			b, err := r.ReadByte()
			if err != nil {
				return out, err
			}
			if b == ',' || b == '}' || b == ']' || b == ' ' || b == '\n' || b == '\r' || b == '\t' {
				r.UnreadByte()
				return out, nil
			}
			add(b)
		}
	}
	depth := 1
	for depth > 0 {
		// Copy runs of plain bytes in one go.
		buf, err := r.Peek(r.Buffered())
		if len(buf) == 0 {
			if _, err = r.Peek(1); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return nil, err
			}
			continue
		}
		i := 0
		for {
			j := bytes.IndexAny(buf[i:], "{}[]\"")
			if j < 0 {
				i = len(buf)
				break
			}
			i += j
			switch buf[i] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			if buf[i] == '"' || depth == 0 {
				break
			}
			i++
		}
		if i == len(buf) {
			if keep {
				out = append(out, buf...)
			}
			r.Discard(len(buf))
			continue
		}
		if keep {
			out = append(out, buf[:i+1]...)
		}
		r.Discard(i + 1)
		if buf[i] == '"' {
			if err := scanString(r, &out, keep); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// scanString reads the rest of a string whose opening quote was read.
func scanString(r *bufio.Reader, out *[]byte, keep bool) error {
	for {
		buf, _ := r.Peek(r.Buffered())
		if len(buf) == 0 {
			if _, err := r.Peek(1); err != nil {
				return io.ErrUnexpectedEOF
			}
			continue
		}
		i := bytes.IndexAny(buf, "\"\\")
		if i < 0 {
			if keep {
				*out = append(*out, buf...)
			}
			r.Discard(len(buf))
			continue
		}
		c := buf[i]
		if keep {
			*out = append(*out, buf[:i+1]...)
		}
		r.Discard(i + 1)
		if c == '"' {
			return nil
		}
		e, err := r.ReadByte() // the escaped byte
		if err != nil {
			return io.ErrUnexpectedEOF
		}
		if keep {
			*out = append(*out, e)
		}
	}
}

func next(r *bufio.Reader) (byte, error) {
	for {
		c, err := r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		switch c {
		case ' ', '\n', '\r', '\t':
			continue
		}
		return c, nil
	}
}

func expect(r *bufio.Reader, want byte) error {
	c, err := next(r)
	if err != nil {
		return err
	}
	if c != want {
		return fmt.Errorf("expected %q, found %q", want, c)
	}
	return nil
}

// unneeded are top-level keys of a full document that neither the filters
// nor the base form read; dropping them before decoding halves the parse
// work (assets alone is often most of a document).
var unneeded = map[string]bool{
	`"assets"`: true, `"screenshots"`: true, `"vars"`: true, `"readme"`: true,
	`"license"`: true, `"elasticsearch"`: true, `"agent"`: true,
}

// reduceDoc returns doc without its unneeded top-level keys. Malformed
// input is returned unchanged so that the decoder reports the error.
func reduceDoc(doc []byte) []byte {
	r := bufio.NewReaderSize(bytes.NewReader(doc), 4096)
	out := make([]byte, 0, len(doc)/2)
	out = append(out, '{')
	if expect(r, '{') != nil {
		return doc
	}
	err := scanObject(r, func(key []byte) (bool, error) {
		if unneeded[string(key)] {
			return false, nil
		}
		v, err := scanValue(r, nil)
		if err != nil {
			return true, err
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, key...)
		out = append(out, ':')
		out = append(out, v...)
		return true, nil
	})
	if err != nil {
		return doc
	}
	return append(out, '}')
}
