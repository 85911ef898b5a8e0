package index

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ScanAll reads a search-index-all.json, {"packages":[{"package_manifest":
// {...}}, ...]}, from r and calls fn with the raw bytes of every
// package_manifest, in file order. Other top-level keys and other keys of an
// entry are skipped, as EPR does (they are checked to be valid JSON). The
// scanner only tracks nesting and strings: the documents themselves are
// for the caller to validate (ReadAll decodes each; the registry's catalog
// parses them in parallel). The slice passed to fn aliases the scanner's
// buffer and is valid only during the call. What follows the top-level
// object is not read, as json.Decoder (and so EPR's loader) ignores it.
// Keys are matched as written: an escaped or case-folded "packages" or
// "package_manifest" is skipped as another key, and an entry with two
// package_manifest members yields both (index writers write neither).
//
// This pass is the sequential part of a registry's index load, so it works
// on its own buffer with byte tables rather than through bufio or
// json.Decoder: it looks at each byte once and copies nothing.
func ScanAll(r io.Reader, fn func(manifest []byte) error) error {
	s := &indexScanner{r: r, buf: make([]byte, 1<<20), mark: -1}
	if err := s.expect('{'); err != nil {
		return err
	}
	return s.object(func(key string) (bool, error) {
		if key != `"packages"` {
			return false, nil
		}
		if err := s.expect('['); err != nil {
			return true, fmt.Errorf("packages: %w", err)
		}
		return true, s.array(func() error {
			if err := s.expect('{'); err != nil {
				return fmt.Errorf("packages entry: %w", err)
			}
			found := false
			err := s.object(func(key string) (bool, error) {
				if key != `"package_manifest"` {
					return false, nil
				}
				raw, err := s.value()
				if err != nil {
					return true, err
				}
				found = true
				return true, fn(raw)
			})
			if err == nil && !found {
				err = errors.New("packages entry without package_manifest")
			}
			return err
		})
	})
}

// indexScanner is a forward-only reader over buf[pos:end]. Bytes from mark
// on (when mark >= 0) survive refills, so a value being scanned stays
// contiguous; the buffer grows when one value outgrows it.
type indexScanner struct {
	r        io.Reader
	buf      []byte
	pos, end int
	mark     int
	err      error // sticky read error
}

// fill reads more input, keeping buf[mark:] (or buf[pos:]); it returns
// false at the end of input or on a read error.
func (s *indexScanner) fill() bool {
	keep := s.pos
	if s.mark >= 0 {
		keep = s.mark
	}
	if keep > 0 {
		copy(s.buf, s.buf[keep:s.end])
		s.end -= keep
		s.pos -= keep
		if s.mark >= 0 {
			s.mark -= keep
		}
	}
	if s.end == len(s.buf) {
		s.buf = append(s.buf, make([]byte, len(s.buf))...)
	}
	for s.err == nil {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		s.err = err
		if n > 0 {
			return true
		}
	}
	return false
}

func (s *indexScanner) readErr() error {
	if s.err == nil || s.err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return s.err
}

// next returns the next byte that is not white space and consumes it.
func (s *indexScanner) next() (byte, error) {
	for {
		for s.pos < s.end {
			c := s.buf[s.pos]
			s.pos++
			switch c {
			case ' ', '\n', '\r', '\t':
				continue
			}
			return c, nil
		}
		if !s.fill() {
			return 0, s.readErr()
		}
	}
}

func (s *indexScanner) expect(want byte) error {
	c, err := s.next()
	if err != nil {
		return err
	}
	if c != want {
		return fmt.Errorf("expected %q, found %q", want, c)
	}
	return nil
}

// object reads the members of an object whose '{' was consumed. For each
// key (with its quotes), member decides: it consumes the value itself
// (true) or lets object skip it (false).
func (s *indexScanner) object(member func(key string) (bool, error)) error {
	for first := true; ; first = false {
		c, err := s.next()
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
			if c, err = s.next(); err != nil {
				return err
			}
		}
		if c != '"' {
			return fmt.Errorf("expected a key, found %q", c)
		}
		s.pos--
		key, err := s.value()
		if err != nil {
			return err
		}
		if !json.Valid(key) {
			return fmt.Errorf("invalid key %.40q", key)
		}
		// A copy: key aliases the buffer, which expect may refill.
		k := string(key)
		if err := s.expect(':'); err != nil {
			return err
		}
		done, err := member(k)
		if err != nil {
			return err
		}
		if !done {
			// Skipped members are cut by nesting alone; check them, so
			// that an index encoding/json (and so EPR) would refuse is
			// refused here too. They are small and rare (the manifests,
			// the bulk, are checked by their parser).
			v, err := s.value()
			if err != nil {
				return err
			}
			if !json.Valid(v) {
				return fmt.Errorf("member %s: invalid JSON value %.40q", k, v)
			}
		}
	}
}

// array reads the elements of an array whose '[' was consumed.
func (s *indexScanner) array(elem func() error) error {
	for first := true; ; first = false {
		c, err := s.next()
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
			s.pos--
		}
		if err := elem(); err != nil {
			return err
		}
	}
}

// Byte classes of the structural skip.
const (
	clPlain = iota
	clQuote
	clOpen
	clClose
)

var (
	// outside strings: which bytes matter for nesting
	structClass = func() (t [256]byte) {
		t['"'] = clQuote
		t['{'], t['['] = clOpen, clOpen
		t['}'], t[']'] = clClose, clClose
		return t
	}()
	// inside strings: the bytes that end a run of plain ones
	strStop = func() (t [256]bool) {
		t['"'], t['\\'] = true, true
		return t
	}()
	literalEnd = func() (t [256]bool) {
		for _, c := range ",}] \n\r\t" {
			t[c] = true
		}
		return t
	}()
)

// Word-at-a-time tests for the scanner's loops: hasZeroByte is exact about
// whether some byte of v is zero.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

func hasZeroByte(v uint64) bool { return (v-ones)&^v&highs != 0 }

// hasQuoteOrBackslash reports whether a byte of w is '"' or '\\'.
func hasQuoteOrBackslash(w uint64) bool {
	return hasZeroByte(w^('"'*ones)) || hasZeroByte(w^('\\'*ones))
}

// hasStructural reports whether a byte of w may be '"', '{', '}', '[' or
// ']'. The brackets are the bytes c with c&0xD9 == 0x59, a class that also
// holds 'Y', '_', 'y' and DEL: bytes that occur outside strings only in
// invalid JSON, and that the byte loop then looks at like any other.
func hasStructural(w uint64) bool {
	return hasZeroByte(w^('"'*ones)) || hasZeroByte((w&(0xD9*ones))^(0x59*ones))
}

// value reads one JSON value after optional white space and returns its
// bytes, valid until the next call on s. Composite values are delimited by
// nesting and strings only; literals run up to the next delimiter.
func (s *indexScanner) value() ([]byte, error) {
	c, err := s.next()
	if err != nil {
		return nil, err
	}
	s.mark = s.pos - 1
	defer func() { s.mark = -1 }()
	depth := 0
	inStr := false
	switch c {
	case '"':
		inStr = true
	case '{', '[':
		depth = 1
	default:
		for {
			for s.pos < s.end {
				if literalEnd[s.buf[s.pos]] {
					return s.buf[s.mark:s.pos], nil
				}
				s.pos++
			}
			if !s.fill() {
				return nil, s.readErr()
			}
		}
	}
	escaped := false // a backslash ended the previous buffer
	for {
		b := s.buf[:s.end]
		i := s.pos
		if escaped && i < len(b) {
			i++
			escaped = false
		}
		for i < len(b) {
			if inStr {
				// Eight bytes at a time up to a word holding a quote or
				// a backslash, then byte by byte.
				for i+8 <= len(b) && !hasQuoteOrBackslash(binary.LittleEndian.Uint64(b[i:])) {
					i += 8
				}
				for i < len(b) && !strStop[b[i]] {
					i++
				}
				if i == len(b) {
					break
				}
				if b[i] == '"' {
					inStr = false
					i++
					if depth == 0 {
						s.pos = i
						return b[s.mark:i], nil
					}
					continue
				}
				// backslash: skip the escaped byte too
				if i+1 == len(b) {
					i++
					escaped = true
					break
				}
				i += 2
				continue
			}
			// Outside strings (white space, punctuation, numbers and
			// literals), skip words that hold no byte that matters.
			for i+8 <= len(b) && !hasStructural(binary.LittleEndian.Uint64(b[i:])) {
				i += 8
			}
			if i == len(b) {
				break
			}
			switch structClass[b[i]] {
			case clQuote:
				inStr = true
			case clOpen:
				depth++
			case clClose:
				if depth--; depth == 0 {
					s.pos = i + 1
					return b[s.mark : i+1], nil
				}
			}
			i++
		}
		s.pos = i
		if !s.fill() {
			return nil, s.readErr()
		}
	}
}
