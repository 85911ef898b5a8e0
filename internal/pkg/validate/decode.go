package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"pkgstore/internal/pkg/yamldoc"
)

// maxDecodedNodes bounds the number of values produced when a YAML document is
// converted to plain Go values, so alias bombs ("billion laughs") cannot
// exhaust memory: aliases are expanded, and every expanded node counts.
const maxDecodedNodes = 2_000_000

// maxNestingDepth bounds the nesting of decoded documents.
const maxNestingDepth = 512

var errTooComplex = errors.New("document is too large or too deeply nested after alias expansion")

// parseYAMLNode parses the first document of data into a yaml.Node tree
// through yamldoc, the one parser of package YAML (it refuses merge keys
// YAML readers resolve differently, and never panics).
func parseYAMLNode(data []byte) (*yaml.Node, error) { return yamldoc.Parse(data) }

// decodeYAML parses data and converts its first document to plain Go values
// (map[string]any, []any, string, int64, float64, bool, nil). When expandDots
// is set, mapping keys containing dots are expanded into nested objects, as
// package-spec does for format versions below 3.0.0.
func decodeYAML(data []byte, expandDots bool) (any, *yaml.Node, error) {
	n, err := parseYAMLNode(data)
	if err != nil {
		return nil, nil, err
	}
	if n == nil {
		return nil, nil, nil
	}
	c := converter{budget: maxDecodedNodes, expandDots: expandDots}
	v, err := c.convert(n, 0)
	if err != nil {
		return nil, nil, err
	}
	return v, n, nil
}

type converter struct {
	budget     int
	expandDots bool
}

func (c *converter) convert(n *yaml.Node, depth int) (any, error) {
	c.budget--
	if c.budget < 0 || depth > maxNestingDepth {
		return nil, errTooComplex
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.convert(n.Content[0], depth+1)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, nil
		}
		return c.convert(n.Alias, depth+1)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, e := range n.Content {
			v, err := c.convert(e, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, vn := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
				if err := c.merge(out, vn, depth+1); err != nil {
					return nil, err
				}
				continue
			}
			v, err := c.convert(vn, depth+1)
			if err != nil {
				return nil, err
			}
			key := keyString(k)
			if c.expandDots && strings.Contains(key, ".") {
				setDotted(out, strings.Split(key, "."), v)
				continue
			}
			out[key] = v
		}
		return out, nil
	case yaml.ScalarNode:
		return scalarValue(n), nil
	}
	return nil, nil
}

func (c *converter) merge(out map[string]any, n *yaml.Node, depth int) error {
	v, err := c.convert(n, depth)
	if err != nil {
		return err
	}
	switch m := v.(type) {
	case map[string]any:
		for k, x := range m {
			if _, ok := out[k]; !ok {
				out[k] = x
			}
		}
	case []any:
		for _, e := range m {
			if mm, ok := e.(map[string]any); ok {
				for k, x := range mm {
					if _, ok := out[k]; !ok {
						out[k] = x
					}
				}
			}
		}
	}
	return nil
}

func setDotted(m map[string]any, parts []string, v any) {
	for i, p := range parts {
		if i == len(parts)-1 {
			if existing, ok := m[p].(map[string]any); ok {
				if vm, ok := v.(map[string]any); ok {
					for k, x := range vm {
						existing[k] = x
					}
					return
				}
			}
			m[p] = v
			return
		}
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
}

func keyString(k *yaml.Node) string {
	if k.Kind == yaml.ScalarNode {
		return k.Value
	}
	return fmt.Sprint(k.Value)
}

func scalarValue(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err == nil {
			return b
		}
		return n.Value
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i
		}
		var f float64
		if err := n.Decode(&f); err == nil {
			return f
		}
		return n.Value
	case "!!float":
		var f float64
		if err := n.Decode(&f); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			if f == math.Trunc(f) && math.Abs(f) < 1<<53 && !strings.ContainsAny(n.Value, ".eE") {
				return int64(f)
			}
			return f
		}
		return n.Value
	}
	return n.Value
}

// decodeJSON parses a JSON document into plain Go values; numbers become
// int64 when integral, float64 otherwise. Trailing data is an error.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid character after top-level value")
	}
	return normalizeNumbers(v, 0)
}

func normalizeNumbers(v any, depth int) (any, error) {
	if depth > maxNestingDepth {
		return nil, errTooComplex
	}
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i, nil
		}
		f, err := x.Float64()
		if err != nil {
			return string(x), nil
		}
		return f, nil
	case map[string]any:
		for k, e := range x {
			n, err := normalizeNumbers(e, depth+1)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
	case []any:
		for i, e := range x {
			n, err := normalizeNumbers(e, depth+1)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
	}
	return v, nil
}
