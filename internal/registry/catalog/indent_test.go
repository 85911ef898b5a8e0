package catalog

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// indent must match json.Indent on valid JSON, compact (as encoding/json
// writes it) or with white space between tokens (as an index may hold it).
func TestIndent(t *testing.T) {
	for _, v := range []any{
		map[string]any{},
		[]any{},
		map[string]any{"a": []any{}, "b": map[string]any{}, "c": []any{map[string]any{}, []any{}}},
		map[string]any{"s": `x"{[,:]}"\\y\"`, "n": -1.5e10, "t": true, "f": false, "z": nil},
		map[string]any{"k\"{": []any{1, "2", []any{3, map[string]any{"d": "\u2028<>&\x01"}}}},
		"string", 12, nil, []any{[]any{[]any{}}},
		map[string]any{"trailing backslash\\": "\\"},
	} {
		compact, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		checkIndent(t, compact)
		spaced, err := json.MarshalIndent(v, "\t", " \r\n")
		if err != nil {
			t.Fatal(err)
		}
		checkIndent(t, spaced)
	}
	checkIndent(t, []byte(" { \"a\" : [ ] , \"b\" :\t{\n} , \"c\":[ 1 , true ,null ] } "))
}

func checkIndent(t *testing.T, src []byte) {
	t.Helper()
	src = bytes.TrimSpace(src)
	for _, prefix := range []string{"", "  "} {
		var want bytes.Buffer
		if err := json.Indent(&want, src, prefix, "  "); err != nil {
			t.Fatal(err)
		}
		if got := indent(nil, src, prefix); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("indent(%s, %q):\n%s\nwant\n%s", src, prefix, got, want.Bytes())
		}
	}
}

// FuzzIndent checks indent against json.Indent on any valid JSON, as given
// and compacted.
func FuzzIndent(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"c\"]"},[]],"d":{}}`))
	f.Add([]byte(` { "a" : [ ] , "b" : { } } `))
	f.Fuzz(func(t *testing.T, in []byte) {
		var compact bytes.Buffer
		if json.Compact(&compact, in) != nil {
			return
		}
		checkIndent(t, in)
		checkIndent(t, compact.Bytes())
	})
}

// hasStringStop agrees with strPlain for every byte at every position.
func TestHasStringStop(t *testing.T) {
	check := func(w [8]byte) {
		want := false
		for _, c := range w {
			want = want || !strPlain[c]
		}
		if got := hasStringStop(binary.LittleEndian.Uint64(w[:])); got != want {
			t.Fatalf("hasStringStop(%q) = %v", w, got)
		}
	}
	for c := range 256 {
		for p := range 8 {
			for _, fill := range []byte{'a', ' ', 0x20, 0x21, 0xFF, 0x80, 0x7F} {
				w := [8]byte{fill, fill, fill, fill, fill, fill, fill, fill}
				w[p] = byte(c)
				check(w)
			}
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], rng.Uint64())
		check(w)
	}
}
