package builder

import (
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

// Tree is a package being built: its files by archive path (below the
// root folder, '/'-separated). Files come from disk until a step replaces
// their content; only replaced or added files are held in memory.
type Tree struct {
	files map[string]*entry
}

func newTree(entries []entry) *Tree {
	t := &Tree{files: make(map[string]*entry, len(entries))}
	for i := range entries {
		e := entries[i]
		if strings.HasSuffix(e.name, "/") {
			continue
		}
		t.files[e.name] = &e
	}
	return t
}

// Has reports whether the tree holds the file name.
func (t *Tree) Has(name string) bool { _, ok := t.files[name]; return ok }

// ReadFile returns the content of the file name.
func (t *Tree) ReadFile(name string) ([]byte, error) {
	e, ok := t.files[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, os.ErrNotExist)
	}
	if e.mem {
		return e.data, nil
	}
	f, err := os.Open(e.src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if e.sum != "" {
		if got := sha256Hex(b); got != e.sum {
			return nil, fmt.Errorf("%w: %s says %s, target %s has %s", ErrLinkChecksum, e.link, e.sum, e.src, got)
		}
	}
	return b, nil
}

// WriteFile sets the content of the file name, adding it when absent.
func (t *Tree) WriteFile(name string, data []byte) {
	t.files[name] = &entry{name: name, data: data, mem: true}
}

// Glob returns the files whose names match pattern (path.Match syntax), in
// lexical order.
func (t *Tree) Glob(pattern string) []string {
	var out []string
	for n := range t.files {
		if ok, _ := path.Match(pattern, n); ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// entries returns the archive entries: folders before their contents, each
// folder's children in lexical order.
func (t *Tree) entries() []entry {
	names := make([]string, 0, len(t.files))
	for n := range t.files {
		names = append(names, n)
	}
	dirs := map[string]bool{}
	for _, n := range names {
		for d := path.Dir(n); d != "."; d = path.Dir(d) {
			if dirs[d+"/"] {
				break
			}
			dirs[d+"/"] = true
		}
	}
	for d := range dirs {
		names = append(names, d)
	}
	// Sort by path components, so that "a/" and its files come before "a-b".
	sort.Slice(names, func(i, j int) bool {
		return lessPath(names[i], names[j])
	})
	out := make([]entry, 0, len(names))
	for _, n := range names {
		if strings.HasSuffix(n, "/") {
			out = append(out, entry{name: n})
			continue
		}
		out = append(out, *t.files[n])
	}
	return out
}

func lessPath(a, b string) bool {
	as := strings.Split(strings.TrimSuffix(a, "/"), "/")
	bs := strings.Split(strings.TrimSuffix(b, "/"), "/")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if as[i] != bs[i] {
			return as[i] < bs[i]
		}
	}
	return len(as) < len(bs)
}
