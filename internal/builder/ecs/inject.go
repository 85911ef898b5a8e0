package ecs

import (
	"bytes"
	"errors"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// ErrNoDependency is returned (wrapped) for a field marked `external: ecs`
// in a package whose build manifest names no ECS reference.
var ErrNoDependency = errors.New(`external fields need "dependencies.ecs.reference" in _dev/build/build.yml`)

// ErrUnknownField is returned (wrapped) for an `external: ecs` field that
// the ECS reference does not define.
var ErrUnknownField = errors.New("field not defined in ECS")

// InjectOptions mirror elastic-package's: a build uses the zero value.
type InjectOptions struct {
	// KeepExternal leaves the `external` key on resolved fields.
	KeepExternal bool
	// IncludeValidationSettings also copies normalize, allowed_values and
	// expected_values (for field validation and documentation).
	IncludeValidationSettings bool
}

// Inject replaces every field marked `external: ecs` in defs (a fields
// file decoded into []any of map[string]any) by its ECS definition, as
// elastic-package does: name, type, description (when not empty),
// pattern, index, doc_values, object_type and multi_fields come from ECS; every key the
// package sets overrides them (maps merged deeply), except type, which stays
// ECS's unless the change is one ECS allows (keyword to constant_keyword,
// object to group, nested or flattened). changed reports whether any field
// was replaced. s may be nil: a package without an ECS dependency; then an
// external field is an error.
func (s *Schema) Inject(defs []any, opts InjectOptions) (out []any, changed bool, err error) {
	return s.inject("", defs, opts)
}

func (s *Schema) inject(root string, defs []any, opts InjectOptions) ([]any, bool, error) {
	out := make([]any, 0, len(defs))
	changed := false
	for i, d := range defs {
		def, ok := d.(map[string]any)
		if !ok {
			return nil, false, fmt.Errorf("field %d below %q is not a mapping", i, root)
		}
		name, ok := def["name"].(string)
		if !ok || name == "" {
			return nil, false, fmt.Errorf("field %d below %q has no name", i, root)
		}
		path := name
		if root != "" {
			path = root + "." + name
		}
		if ext, has := def["external"]; has && ext != nil {
			schema, ok := ext.(string)
			if !ok {
				return nil, false, fmt.Errorf("field %s: external must be a string, got %T", path, ext)
			}
			if schema != "ecs" {
				return nil, false, fmt.Errorf("field %s: external schema %q is not a package dependency (only \"ecs\" is)", path, schema)
			}
			if s == nil {
				return nil, false, fmt.Errorf("field %s: %w", path, ErrNoDependency)
			}
			f, ok := s.Field(path)
			if !ok {
				return nil, false, fmt.Errorf("field %s: %w (reference %s)", path, ErrUnknownField, s.Ref)
			}
			m := imported(f, opts)
			deepUpdate(m, def)
			if !opts.KeepExternal {
				delete(m, "external")
			}
			if t, _ := m["type"].(string); !typeOverrideAllowed(f.Type, t) {
				m["type"] = f.Type
			}
			out = append(out, m)
			changed = true
			continue
		}
		if sub, has := def["fields"]; has && sub != nil {
			list, ok := sub.([]any)
			if !ok {
				return nil, false, fmt.Errorf("field %s: fields must be a list", path)
			}
			nl, c, err := s.inject(path, list, opts)
			if err != nil {
				return nil, false, err
			}
			if c {
				changed = true
				def["fields"] = nl
			}
		}
		out = append(out, def)
	}
	return out, changed, nil
}

// imported is what elastic-package copies of an ECS definition.
func imported(f *Field, opts InjectOptions) map[string]any {
	m := map[string]any{"name": f.FlatName, "type": f.Type}
	if f.Description != "" {
		m["description"] = f.Description
	}
	if f.Pattern != "" {
		m["pattern"] = f.Pattern
	}
	if f.Index != nil {
		m["index"] = *f.Index
	}
	if f.DocValues != nil {
		m["doc_values"] = *f.DocValues
	}
	// An object field's mapping needs the type of its values (the
	// package-spec requires object_type on type object).
	if f.ObjectType != "" {
		m["object_type"] = f.ObjectType
	}
	if len(f.MultiFields) > 0 {
		mf := make([]any, 0, len(f.MultiFields))
		for _, x := range f.MultiFields {
			mf = append(mf, map[string]any{"name": x.Name, "type": x.Type})
		}
		m["multi_fields"] = mf
	}
	if opts.IncludeValidationSettings {
		if len(f.Normalize) > 0 {
			n := make([]any, len(f.Normalize))
			for i, v := range f.Normalize {
				n[i] = v
			}
			m["normalize"] = n
		}
		if len(f.AllowedValues) > 0 {
			av := make([]any, 0, len(f.AllowedValues))
			for _, v := range f.AllowedValues {
				e := map[string]any{"name": v.Name, "description": v.Description}
				if len(v.ExpectedEventTypes) > 0 {
					t := make([]any, len(v.ExpectedEventTypes))
					for i, x := range v.ExpectedEventTypes {
						t[i] = x
					}
					e["expected_event_types"] = t
				}
				av = append(av, e)
			}
			m["allowed_values"] = av
		}
		if len(f.ExpectedValues) > 0 {
			ev := make([]any, len(f.ExpectedValues))
			for i, v := range f.ExpectedValues {
				ev[i] = v
			}
			m["expected_values"] = ev
		}
	}
	return m
}

// deepUpdate merges src into dst: maps are merged key by key, anything
// else in src replaces dst's value.
func deepUpdate(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				deepUpdate(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

func typeOverrideAllowed(from, to string) bool {
	switch {
	case from == to:
		return true
	case from == "keyword" && to == "constant_keyword":
		return true
	case from == "object" && (to == "group" || to == "nested" || to == "flattened"):
		return true
	}
	return false
}

// InjectFile resolves the external fields of one fields file (YAML, a list
// of fields). When nothing is external, the content is returned unchanged
// and changed is false; otherwise it is the re-encoded list.
func (s *Schema) InjectFile(content []byte, opts InjectOptions) (out []byte, changed bool, err error) {
	var defs []any
	if err := yaml.Unmarshal(content, &defs); err != nil {
		return nil, false, fmt.Errorf("parse fields: %w", err)
	}
	res, changed, err := s.Inject(defs, opts)
	if err != nil || !changed {
		return content, false, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(res); err != nil {
		return nil, false, fmt.Errorf("encode fields: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, false, fmt.Errorf("encode fields: %w", err)
	}
	return buf.Bytes(), true, nil
}
