package fsdriver

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Keys and paths.
//
// A key is stored at the relative path gocloud's file driver (fileblob,
// gocloud.dev v0.47, on systems whose path separator is '/') stores it
// at: stores already on disk were written by it, and the real EPR reads
// the public one as plain files. fileblob hex-escapes, as "__0x<hex>__",
// every control character, the '/' of "../", the second '/' of "//", a
// trailing '/', and the first '_' of any text that would itself unescape
// (so package names such as "a__0x41__b", valid ^[a-z0-9_]+$ names, are
// stored as "a__0x5f__0x41__b"). escapeKey and unescapeKey are that rule,
// copied from gocloud.dev/internal/escape (which cannot be imported);
// TestKeyPathsMatchFileblob compares them with fileblob itself.
//
// Keys whose path fileblob would not map back to the same key, or not
// inside the bucket, are refused: keys whose escaped path unescapes to
// another key, invalid UTF-8, a leading '/', a "." or
// ".." segment, and the reserved folder of temporary files. Keys ending in
// ".attrs" are ordinary keys here (a package may hold docs/README.md.attrs):
// fileblob took them for its metadata sidecars, which pkgstore never wrote
// (it opened folders with MetadataDontWrite), so no folder store holds a
// sidecar, and such a file is served like any other, as on cloud buckets.

// errBadKey is the error of a key the driver refuses.
var errBadKey = errors.New("key cannot be stored in a folder")

// relPath returns the slash-separated path, relative to the bucket's
// folder, of key.
func relPath(key string) (string, error) {
	if key == "" || !utf8.ValidString(key) {
		return "", errBadKey
	}
	p := escapeKey(key)
	if p != key && unescapeKey(p) != key {
		// fileblob's escaping is not always reversible: "__0x-41" then a
		// tab escapes to "__0x-41__0x9__", which lists as another key.
		return "", errBadKey
	}
	rest := p
	first := true
	for {
		seg, tail, more := strings.Cut(rest, "/")
		if seg == "" || seg == "." || seg == ".." || (first && seg == tempDir) {
			return "", errBadKey
		}
		if !more {
			return p, nil
		}
		rest, first = tail, false
	}
}

// needsEscape reports whether escapeKey might change s (s is valid UTF-8:
// the bytes tested are ASCII, so byte positions stand for rune positions).
func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 32:
			return true
		case c == '/':
			if i == len(s)-1 || (i > 0 && s[i-1] == '/') || (i > 1 && s[i-1] == '.' && s[i-2] == '.') {
				return true
			}
		case c == '_':
			if strings.HasPrefix(s[i:], "__0x") {
				return true
			}
		}
	}
	return false
}

// escapeKey is fileblob's escapeKey for a '/' path separator.
func escapeKey(s string) string {
	if !needsEscape(s) {
		return s
	}
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		esc := false
		switch {
		case c < 32:
			esc = true
		case i > 1 && c == '/' && r[i-1] == '.' && r[i-2] == '.':
			esc = true
		case i > 0 && c == '/' && r[i-1] == '/':
			esc = true
		case c == '/' && i == len(r)-1:
			esc = true
		}
		if esc || isEscapeSequence(r, i) {
			fmt.Fprintf(&b, "__%#x__", c)
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// unescapeKey is fileblob's unescapeKey for a '/' path separator.
func unescapeKey(s string) string {
	if !strings.Contains(s, "__0x") {
		return s
	}
	r := []rune(s)
	var out []rune
	for i := 0; i < len(r); i++ {
		if ok, c, last := unescape(r, i); ok {
			if out == nil {
				out = append(make([]rune, 0, len(r)), r[:i]...)
			}
			out = append(out, c)
			i = last
		} else if out != nil {
			out = append(out, r[i])
		}
	}
	if out == nil {
		return s
	}
	return string(out)
}

func isEscapeSequence(r []rune, i int) bool {
	ok, _, _ := unescape(r, i)
	return ok
}

// unescape parses "__0x<hex>__" at r[i:]: the rune and the index of its
// last '_'.
func unescape(r []rune, i int) (bool, rune, int) {
	for _, c := range "__0x" {
		if i >= len(r) || r[i] != c {
			return false, 0, 0
		}
		i++
	}
	j := i
	for ; i < len(r) && r[i] != '_'; i++ {
	}
	if i+1 >= len(r) || r[i] != '_' || r[i+1] != '_' {
		return false, 0, 0
	}
	v, err := strconv.ParseInt(string(r[j:i]), 16, 32)
	if err != nil {
		return false, 0, 0
	}
	return true, rune(v), i + 1
}
