package ecs

import (
	"errors"
	"fmt"
	"sort"

	"go.yaml.in/yaml/v3"
)

// ErrIncomplete is returned (wrapped) when a schema file is not a complete
// ecs_nested.yml: empty, cut short, or missing what every release has.
var ErrIncomplete = errors.New("incomplete ECS schema")

// FieldSet is one top-level entry of ecs_nested.yml, in that file's shape
// (the keys pkgstore uses).
type FieldSet struct {
	Name        string           `yaml:"name"`
	Title       string           `yaml:"title"`
	Type        string           `yaml:"type"`
	Description string           `yaml:"description"`
	Short       string           `yaml:"short"`
	Root        bool             `yaml:"root"`
	Fields      map[string]Field `yaml:"fields"` // by flat name
}

// Field is one field of a field set, in ecs_nested.yml's shape.
type Field struct {
	Name           string         `yaml:"name"`      // relative to the field set
	FlatName       string         `yaml:"flat_name"` // full dotted name
	Type           string         `yaml:"type"`
	Description    string         `yaml:"description"`
	Short          string         `yaml:"short"`
	Level          string         `yaml:"level"`
	Example        any            `yaml:"example"`
	Pattern        string         `yaml:"pattern"`
	Index          *bool          `yaml:"index"`
	DocValues      *bool          `yaml:"doc_values"`
	IgnoreAbove    int            `yaml:"ignore_above"`
	ScalingFactor  *int           `yaml:"scaling_factor"`
	ObjectType     string         `yaml:"object_type"`
	Normalize      []string       `yaml:"normalize"`
	AllowedValues  []AllowedValue `yaml:"allowed_values"`
	ExpectedValues []string       `yaml:"expected_values"`
	MultiFields    []MultiField   `yaml:"multi_fields"`
}

// AllowedValue is one entry of a field's allowed_values.
type AllowedValue struct {
	Name               string   `yaml:"name"`
	Description        string   `yaml:"description"`
	ExpectedEventTypes []string `yaml:"expected_event_types"`
}

// MultiField is one entry of a field's multi_fields.
type MultiField struct {
	Name     string `yaml:"name"`
	FlatName string `yaml:"flat_name"`
	Type     string `yaml:"type"`
	Norms    *bool  `yaml:"norms"`
}

// Schema is a parsed and checked ecs_nested.yml of one ECS reference.
type Schema struct {
	Ref       string              // the REF it was resolved for
	FieldSets map[string]FieldSet // by name
	byName    map[string]*Field
}

// Parse decodes and checks an ecs_nested.yml. A file that is empty, is not
// a mapping of field sets, or whose last field set or field lacks keys
// every release writes (the file was cut short) gives ErrIncomplete.
func Parse(ref string, b []byte) (*Schema, error) {
	var sets map[string]FieldSet
	if err := yaml.Unmarshal(b, &sets); err != nil {
		return nil, fmt.Errorf("%w: ECS %s: %v", ErrIncomplete, ref, err)
	}
	if len(sets) == 0 {
		return nil, fmt.Errorf("%w: ECS %s: no field sets", ErrIncomplete, ref)
	}
	s := &Schema{Ref: ref, FieldSets: sets, byName: map[string]*Field{}}
	names := make([]string, 0, len(sets))
	for n := range sets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fs := sets[n]
		// ecs_nested.yml writes each field set's keys in lexical order,
		// name, title and type last: a set cut short lacks them.
		if fs.Name != n || fs.Title == "" || fs.Type == "" || len(fs.Fields) == 0 {
			return nil, fmt.Errorf("%w: ECS %s: field set %q lacks name, title, type or fields", ErrIncomplete, ref, n)
		}
		for flat, f := range fs.Fields {
			if f.FlatName != flat || f.Name == "" || f.Type == "" {
				return nil, fmt.Errorf("%w: ECS %s: field %q lacks flat_name, name or type", ErrIncomplete, ref, flat)
			}
			f := f
			s.byName[flat] = &f
		}
	}
	// Every release since 1.0 has these; a file without them was cut at a
	// field set boundary or is not ECS at all.
	for _, must := range []string{"base", "ecs"} {
		if _, ok := sets[must]; !ok {
			return nil, fmt.Errorf("%w: ECS %s: field set %q is missing", ErrIncomplete, ref, must)
		}
	}
	if _, ok := s.byName["ecs.version"]; !ok {
		return nil, fmt.Errorf("%w: ECS %s: field ecs.version is missing", ErrIncomplete, ref)
	}
	return s, nil
}

// Field returns the definition of the field with the full dotted name, as
// elastic-package finds it: a field by its flat name, else a field set by
// its name (as a group).
func (s *Schema) Field(name string) (*Field, bool) {
	if s == nil {
		return nil, false
	}
	if f, ok := s.byName[name]; ok {
		return f, true
	}
	if fs, ok := s.FieldSets[name]; ok && !fs.Root {
		return &Field{Name: fs.Name, FlatName: fs.Name, Type: "group", Description: fs.Description}, true
	}
	return nil, false
}

// Len returns the number of fields.
func (s *Schema) Len() int { return len(s.byName) }
