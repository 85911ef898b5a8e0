package catalog

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// indentCompact must match json.Indent on whatever encoding/json writes.
func TestIndentCompact(t *testing.T) {
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
		var want bytes.Buffer
		if err := json.Indent(&want, compact, "  ", "  "); err != nil {
			t.Fatal(err)
		}
		if got := indentCompact(nil, compact); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("indentCompact(%s):\n%s\nwant\n%s", compact, got, want.Bytes())
		}
	}
}

// FuzzIndentCompact checks indentCompact against json.Indent on the
// compact form of any valid JSON.
func FuzzIndentCompact(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"c\"]"},[]],"d":{}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var compact bytes.Buffer
		if json.Compact(&compact, in) != nil {
			return
		}
		var want bytes.Buffer
		if err := json.Indent(&want, compact.Bytes(), "  ", "  "); err != nil {
			t.Fatal(err)
		}
		if got := indentCompact(nil, compact.Bytes()); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("indentCompact(%s) = %s, want %s", compact.Bytes(), got, want.Bytes())
		}
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
