// Package yamldoc is the one entry point for reading package YAML
// (manifests above all): every reader of a manifest (archive's identity
// check, the package-spec validator, the package document EPR serves, the
// web catalog) parses through it, so that they cannot read one file two
// ways.
//
// The readers still differ where they must match different oracles: the
// package document reads scalars as EPR does (go-ucfg over yaml.v2, YAML
// 1.1: yes/no are booleans), validation as package-spec does (yaml.v3, YAML
// 1.2). Those are scalar types, compared by the differential tests. What
// the structure of a document is, which keys hold which values, must be
// one answer, and merge keys (`<<`) are where YAML readers disagree:
//
//   - a key set before a `<<` that also sets it: yaml.v2 (EPR) lets the
//     merge win, yaml.v3 (package-spec, elastic-package) and js-yaml
//     (Kibana) keep the key: `version: 1.0.0` then `<<: {version: 2.0.0}`
//     is 2.0.0 for EPR and 1.0.0 for the others;
//   - two `<<` keys in one mapping: yaml.v2 takes the later one's values,
//     yaml.v3 refuses the document when decoding into a map, and its node
//     tree (validation) keeps both, the earlier winning.
//
// Parse refuses both shapes (*MergeError), naming the line; every other
// use of merge keys reads the same in every reader (explicit keys after a
// merge win, in a list of merged mappings the earlier wins) and is kept.
package yamldoc

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// ErrAmbiguousMerge is wrapped by every *MergeError.
var ErrAmbiguousMerge = errors.New("merge key (<<) read differently by YAML readers")

// MergeError is a mapping whose merge keys YAML readers resolve
// differently.
type MergeError struct {
	Line int    // of the offending key
	Key  string // the key set before the merge; "" for a second "<<"
}

func (e *MergeError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("line %d: a second merge key (<<) in one mapping: %v (EPR takes the later one's values, package-spec refuses the file); merge a list instead: <<: [*a, *b]", e.Line, ErrAmbiguousMerge)
	}
	return fmt.Sprintf("line %d: %q is set before a merge key (<<) that also sets it: %v (EPR takes the merged value, package-spec and Kibana the key's); write the key after the <<", e.Line, e.Key, ErrAmbiguousMerge)
}

func (e *MergeError) Unwrap() error { return ErrAmbiguousMerge }

// maxNodes bounds the work of the merge check (each mapping is looked at
// once, merged or not); a document this large is refused.
const maxNodes = 1 << 20

// Parse parses the first document of data into a node tree, refusing
// merge keys that YAML readers resolve differently. An empty document is
// (nil, nil). It never panics: a panic inside the YAML library is an
// error.
func Parse(data []byte) (node *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			node, err = nil, fmt.Errorf("yaml parser failure: %v", r)
		}
	}()
	var n yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&n); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	c := checker{keys: map[*yaml.Node]map[string]bool{}}
	if err := c.walk(&n); err != nil {
		return nil, err
	}
	return &n, nil
}

// Check is Parse for readers that decode data with another library
// (packagedoc's yaml.v2): the document's structure is then the one every
// reader agrees on.
func Check(data []byte) error {
	_, err := Parse(data)
	return err
}

// MayMerge reports whether data can hold a merge key at all; when it
// cannot, Check has nothing to refuse and a reader that parses data with
// its own library may skip it (the v3 parse is half of what reading a
// manifest costs). A merge key is a plain "<<" or a node tagged merge:
// "!!merge", "tag:yaml.org,2002:merge", a %TAG handle's "!h!merge", or a
// tag spelled with %-escapes. A quoted "<<" is a string to both yaml.v2
// and yaml.v3 (TestParse), so an escape sequence cannot make one. The
// test is on bytes and conservative: "merge" in a description, or a %,
// only costs the check.
func MayMerge(data []byte) bool {
	return bytes.Contains(data, []byte("<<")) ||
		bytes.Contains(data, []byte("merge")) ||
		bytes.IndexByte(data, '%') >= 0
}

// Unmarshal is yaml.v3's Unmarshal after Check.
func Unmarshal(data []byte, out any) error {
	if err := Check(data); err != nil {
		return err
	}
	return yaml.Unmarshal(data, out)
}

type checker struct {
	keys  map[*yaml.Node]map[string]bool // keys a merged mapping ends up with
	nodes int
}

var errTooLarge = errors.New("yaml document too large to check")

// walk checks every mapping of the tree that holds a merge key; aliases
// are not followed (the node they name is checked where it is defined),
// so each node is visited once and documents without merge keys cost one
// pass and no allocation.
func (c *checker) walk(n *yaml.Node) error {
	if n == nil || n.Kind == yaml.AliasNode {
		return nil
	}
	if c.nodes++; c.nodes > maxNodes {
		return errTooLarge
	}
	if n.Kind == yaml.MappingNode && hasMerge(n) {
		if _, err := c.mappingKeys(n); err != nil {
			return err
		}
	}
	for _, ch := range n.Content {
		if err := c.walk(ch); err != nil {
			return err
		}
	}
	return nil
}

func hasMerge(n *yaml.Node) bool {
	for i := 0; i < len(n.Content); i += 2 {
		if isMerge(n.Content[i]) {
			return true
		}
	}
	return false
}

func isMerge(k *yaml.Node) bool { return k.Kind == yaml.ScalarNode && k.Tag == "!!merge" }

// mappingKeys returns the keys mapping n holds once merged, checking it
// on the way (memoized: an anchor merged many times costs once).
func (c *checker) mappingKeys(n *yaml.Node) (map[string]bool, error) {
	if ks, ok := c.keys[n]; ok {
		if ks == nil {
			return nil, errors.New("yaml merge cycle")
		}
		return ks, nil
	}
	c.keys[n] = nil              // in progress
	explicit := map[string]int{} // key -> line, set so far
	out := map[string]bool{}
	merged := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if c.nodes++; c.nodes > maxNodes {
			return nil, errTooLarge
		}
		if !isMerge(k) {
			explicit[k.Value] = k.Line
			out[k.Value] = true
			continue
		}
		if merged {
			return nil, &MergeError{Line: k.Line}
		}
		merged = true
		mk, err := c.mergedKeys(v)
		if err != nil {
			return nil, err
		}
		for key := range mk {
			if line, ok := explicit[key]; ok {
				return nil, &MergeError{Line: line, Key: key}
			}
			out[key] = true
		}
	}
	c.keys[n] = out
	return out, nil
}

// mergedKeys returns the keys a merge value brings: a mapping's, or the
// union of a list of mappings'. Other values are left to the readers,
// which all refuse them.
func (c *checker) mergedKeys(v *yaml.Node) (map[string]bool, error) {
	for v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	switch v.Kind {
	case yaml.MappingNode:
		return c.mappingKeys(v)
	case yaml.SequenceNode:
		out := map[string]bool{}
		for _, e := range v.Content {
			ks, err := c.mergedKeys(e)
			if err != nil {
				return nil, err
			}
			for k := range ks {
				out[k] = true
			}
		}
		return out, nil
	}
	return nil, nil
}
