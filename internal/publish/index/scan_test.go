package index

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"pkgstore/internal/storage"
)

func TestScanIndex(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{`{"x":[1,{"a":"}"}],"packages":[{"package_manifest":{"name":"a\"}","v":[1,2]}},{"other":1,"package_manifest":{}}],"y":null}`, []string{`{"name":"a\"}","v":[1,2]}`, `{}`}, false},
		{` { "packages" : [ ] } `, nil, false},
		{`{"packages":[{"package_manifest":{"a":1}`, nil, true},
		{`{"packages":[{"nope":1}]}`, nil, true},
		{`[]`, nil, true},
		// Skipped members are checked as encoding/json would (fuzzing found
		// these accepted).
		{`{"":00}`, nil, true},
		{`{"x":[1,}],"packages":[]}`, nil, true},
		{`{"packages":[{"other":tru,"package_manifest":{}}]}`, nil, true},
		{`{"\q":1,"packages":[]}`, nil, true},
		{`{"x":[1,{"a":"}"}],"packages":[]} trailing`, nil, false},
	}
	// Larger than the scanner's buffer, with escapes, so that it grows.
	big := `{"name":"` + strings.Repeat(`a\"{[`, 300000) + `","v":[1,{"x":"]}"}]}`
	tests = append(tests, struct {
		in   string
		want []string
		err  bool
	}{`{"packages":[{"package_manifest":` + big + `},{"package_manifest":{"b":true}}]}`, []string{big, `{"b":true}`}, false})
	for _, tc := range tests {
		// One byte per Read puts every buffer boundary everywhere,
		// including between a backslash and the byte it escapes.
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tc.in)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			var got []string
			err := ScanAll(r, func(b []byte) error {
				got = append(got, string(b))
				return nil
			})
			if (err != nil) != tc.err {
				t.Errorf("%.80s (one byte %v): err %v", tc.in, oneByte, err)
			}
			if !tc.err && fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%.80s (one byte %v): got %.80q, want %.80q", tc.in, oneByte, got, tc.want)
			}
		}
	}
}

// The scanner's word tests agree with the byte tables for every byte at
// every position, and on words mixing several.
func TestScanWordTests(t *testing.T) {
	structural := func(c byte) bool { return c == '"' || c&0xD9 == 0x59 }
	check := func(w [8]byte) {
		v := binary.LittleEndian.Uint64(w[:])
		var wantS, wantQ bool
		for _, c := range w {
			wantS = wantS || structural(c)
			wantQ = wantQ || strStop[c]
		}
		if got := hasStructural(v); got != wantS {
			t.Fatalf("hasStructural(%q) = %v", w, got)
		}
		if got := hasQuoteOrBackslash(v); got != wantQ {
			t.Fatalf("hasQuoteOrBackslash(%q) = %v", w, got)
		}
	}
	for c := range 256 {
		if structClass[c] != clPlain && !structural(byte(c)) {
			t.Fatalf("%q is structural but not in the word test's class", byte(c))
		}
		for p := range 8 {
			for _, fill := range []byte{'a', ' ', 0, 0xFF, 0x01, 0x80} {
				w := [8]byte{fill, fill, fill, fill, fill, fill, fill, fill}
				w[p] = byte(c)
				check(w)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], rng.Uint64())
		check(w)
	}
}

// ReadAll refuses a truncated or ill-closed index, which json.Decoder's
// More took for a complete one when ReadAll was built on it.
func TestReadAllRefusesTruncated(t *testing.T) {
	ctx := context.Background()
	b := memBuckets(t)
	for _, in := range []string{
		`{`,
		`{]`,
		`{"packages":[{"package_manifest":{"name":"a","version":"1.0.0"}}]`,
	} {
		if err := b.Internal.WriteAll(ctx, storage.IndexAllKey("1"), []byte(in), nil); err != nil {
			t.Fatal(err)
		}
		n := 0
		err := ReadAll(ctx, b.Internal, "1", func(Entry) error { n++; return nil })
		if err == nil {
			t.Errorf("%s: accepted (%d entries)", in, n)
		}
	}
}
