package packagedoc

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"

	yamlv2 "gopkg.in/yaml.v2"

	"pkgstore/internal/pkg/yamldoc"
)

// EPR reads manifests with go-ucfg over gopkg.in/yaml.v2 (YAML 1.1: yes/no
// are booleans, 0755 is octal), with "." as path separator. This file
// reproduces that reading for the types of types.go:
//
//   - every mapping key is a path: "a.b: x" and "a: {b: x}" are the same
//     value, and both merge with other keys under "a";
//   - a field reads the value at its config path; unknown keys are dropped;
//   - a string field takes any scalar, formatted as ucfg does (true, 42,
//     1.5; null is ""); a bool field takes a boolean or a string
//     strconv.ParseBool accepts; a slice field takes a list, a single value
//     (a list of one) or a mapping (an empty list);
//   - free-form values (maps and any) keep YAML's scalar types; empty maps
//     become null, as ucfg's reify does (empty lists stay lists);
//   - a field tagged required must be present, non-null and, for strings,
//     non-empty, or the package does not load; inside an empty mapping
//     nothing is required.
//
// Anything else (a mapping where a string is expected, a key that is not a
// string) is an error, as it is for EPR.

// ucfgNode is a normalized YAML value: map[string]any, []any, or a scalar
// (nil, bool, int64, uint64, float64, string).
type ucfgNode = any

// maxDepth bounds nesting: package text is untrusted. It is far above
// what a manifest needs, so that nothing EPR loads is refused here.
const maxDepth = 10000

// parseUcfg parses a YAML document into a normalized mapping.
func parseUcfg(data []byte) (map[string]any, error) {
	// The structure every reader agrees on first (merge keys yaml.v2 and
	// yaml.v3 resolve differently are refused); scalars then as EPR reads
	// them. A document that cannot hold a merge key has nothing for the
	// check to refuse: it is skipped, half the cost of a manifest.
	if yamldoc.MayMerge(data) {
		if err := yamldoc.Check(data); err != nil {
			return nil, err
		}
	}
	// Nearly every manifest is plain block YAML, which fastYAML reads as
	// yaml.v2 does at a fraction of the cost; anything else is yaml.v2's.
	raw, ok := fastYAML(data)
	if !ok {
		if err := yamlv2.Unmarshal(data, &raw); err != nil {
			return nil, err
		}
	}
	out := map[string]any{}
	for k, v := range raw {
		nv, err := normalize(v, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		if err := setPath(out, k, nv); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func normalize(v any, depth int) (ucfgNode, error) {
	if depth > maxDepth {
		return nil, errors.New("nesting too deep")
	}
	switch x := v.(type) {
	case nil, bool, string, float64:
		return x, nil
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case uint64:
		return x, nil
	case float32:
		return float64(x), nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case map[any]any:
		out := map[string]any{}
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("key %v is not a string", k)
			}
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			if err := setPath(out, ks, n); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]any:
		m := make(map[any]any, len(x))
		for k, e := range x {
			m[k] = e
		}
		return normalize(m, depth)
	}
	return nil, fmt.Errorf("unsupported YAML value %T", v)
}

// setPath stores v at the dotted path key of m, merging mappings.
func setPath(m map[string]any, key string, v ucfgNode) error {
	// Walk the dotted path without splitting it: most keys have no dot.
	last := key
	for {
		p, rest, dotted := strings.Cut(last, ".")
		if !dotted {
			break
		}
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m, last = next, rest
	}
	if old, ok := m[last].(map[string]any); ok {
		if nv, ok := v.(map[string]any); ok {
			for k, e := range nv {
				if err := setPath(old, k, e); err != nil {
					return err
				}
			}
			return nil
		}
	}
	m[last] = v
	return nil
}

// lookup returns the value at the dotted path of m.
func lookup(m map[string]any, path string) (ucfgNode, bool) {
	var cur any = m
	for rest, more := path, true; more; {
		var p string
		p, rest, more = strings.Cut(rest, ".")
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// unpack fills the struct pointed to by out from m.
func unpack(m map[string]any, out any) error {
	return unpackStruct(m, reflect.ValueOf(out).Elem(), "")
}

// ucfgField is a struct field ucfg fills: its index, config name and
// options.
type ucfgField struct {
	index    int
	name     string
	inline   bool
	required bool
	isString bool
}

// ucfgFields caches the fields of each struct type (reflect.Type to
// []ucfgField): reading the tags of every field of every struct of every
// manifest was a tenth of reading a package.
var ucfgFields sync.Map

func fieldsOf(t reflect.Type) []ucfgField {
	if fs, ok := ucfgFields.Load(t); ok {
		return fs.([]ucfgField)
	}
	var fs []ucfgField
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("config")
		if !ok {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		fs = append(fs, ucfgField{index: i, name: name, inline: opts == "inline", required: opts == "required", isString: f.Type.Kind() == reflect.String})
	}
	ucfgFields.Store(t, fs)
	return fs
}

func unpackStruct(m map[string]any, v reflect.Value, at string) error {
	// An empty mapping leaves the struct zero without checking required
	// fields ("default: {}" is a disabled deployment mode for EPR).
	checkRequired := len(m) > 0 || at == ""
	for _, f := range fieldsOf(v.Type()) {
		if f.inline {
			if err := unpackStruct(m, v.Field(f.index), at); err != nil {
				return err
			}
			continue
		}
		required := f.required && checkRequired
		val, ok := lookup(m, f.name)
		if (!ok || val == nil) && !required {
			continue
		}
		where := f.name
		if at != "" {
			where = at + "." + f.name
		}
		if !ok || val == nil {
			return fmt.Errorf("missing required field accessing '%s'", where)
		}
		if err := unpackValue(val, v.Field(f.index), where); err != nil {
			return err
		}
		if required && f.isString && v.Field(f.index).String() == "" {
			return fmt.Errorf("empty field accessing '%s'", where)
		}
	}
	return nil
}

func unpackValue(val ucfgNode, v reflect.Value, at string) error {
	if val == nil {
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		e := reflect.New(v.Type().Elem())
		if err := unpackValue(val, e.Elem(), at); err != nil {
			return err
		}
		v.Set(e)
		return nil
	case reflect.String:
		s, err := toString(val)
		if err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
		v.SetString(s)
		return nil
	case reflect.Bool:
		switch x := val.(type) {
		case bool:
			v.SetBool(x)
			return nil
		case string:
			b, err := strconv.ParseBool(x)
			if err != nil {
				return fmt.Errorf("%s: %q is not a boolean", at, x)
			}
			v.SetBool(b)
			return nil
		}
		return fmt.Errorf("%s: %T is not a boolean", at, val)
	case reflect.Slice:
		var list []any
		switch x := val.(type) {
		case []any:
			list = x
		case map[string]any:
			// ucfg reads the list part of a mapping, which YAML never
			// fills: a mapping where a list belongs is an empty list.
		default:
			list = []any{val}
		}
		s := reflect.MakeSlice(v.Type(), len(list), len(list))
		for i, e := range list {
			if err := unpackValue(e, s.Index(i), at+"."+strconv.Itoa(i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.Map:
		mm, ok := val.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: expected a mapping, found %T", at, val)
		}
		r, err := reify(mm)
		if err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
		if r != nil {
			v.Set(reflect.ValueOf(r))
		}
		return nil
	case reflect.Interface:
		r, err := reify(val)
		if err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
		if r != nil {
			v.Set(reflect.ValueOf(r))
		}
		return nil
	case reflect.Struct:
		mm, ok := val.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: expected a mapping, found %T", at, val)
		}
		return unpackStruct(mm, v, at)
	}
	return fmt.Errorf("%s: unsupported field type %s", at, v.Type())
}

// toString formats a scalar as ucfg does.
func toString(val ucfgNode) (string, error) {
	switch x := val.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		return fmt.Sprintf("%v", x), nil
	}
	return "", fmt.Errorf("expected a string, found %T", val)
}

// reify turns a normalized value into what ucfg hands to an interface{}.
// A float JSON cannot hold (.inf, .nan) is an error: EPR loads such a
// package but fails every request for its document.
func reify(val ucfgNode) (any, error) {
	switch x := val.(type) {
	case map[string]any:
		if len(x) == 0 {
			return nil, nil
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := reify(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := reify(e)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, fmt.Errorf("%v has no JSON form", x)
		}
	}
	return val, nil
}
