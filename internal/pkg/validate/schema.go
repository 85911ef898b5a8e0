package validate

import (
	"embed"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

//go:embed spec/schemas/*.yml
var schemaFS embed.FS

const schemaBase = "mem:///schemas/"

// Version directives understood in our schema files (removed before
// compilation):
//
//	x-since: V      on a property (or allOf/anyOf/oneOf entry): dropped when format_version < V
//	x-until: V      dropped when format_version >= V
//	x-before: {V: {key: value}}  keys overridden (null deletes) when format_version < V;
//	                several blocks apply newest first, so older ones win
//	x-enum-since: {value: V} / x-enum-until: {value: V}  enum values gated by version

var (
	rawSchemasOnce sync.Once
	rawSchemas     map[string]any // file name -> decoded YAML
	rawSchemasErr  error

	compiledMu sync.Mutex
	compiled   = map[string]*versionSchemas{}
)

type versionSchemas struct {
	mu       sync.Mutex
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema
	errs     map[string]error
}

func loadRawSchemas() {
	rawSchemas = map[string]any{}
	ents, err := schemaFS.ReadDir("spec/schemas")
	if err != nil {
		rawSchemasErr = err
		return
	}
	for _, e := range ents {
		data, err := schemaFS.ReadFile("spec/schemas/" + e.Name())
		if err != nil {
			rawSchemasErr = err
			return
		}
		v, _, err := decodeYAML(data, false)
		if err != nil {
			rawSchemasErr = fmt.Errorf("schema %s: %w", e.Name(), err)
			return
		}
		rawSchemas[e.Name()] = v
	}
}

// schemaFor returns the compiled schema name ("manifest" -> spec/schemas/manifest.yml)
// specialised for the format version.
func schemaFor(name string, fv *semver.Version) (*jsonschema.Schema, error) {
	rawSchemasOnce.Do(loadRawSchemas)
	if rawSchemasErr != nil {
		return nil, rawSchemasErr
	}
	key := fv.String()
	compiledMu.Lock()
	vs, ok := compiled[key]
	if !ok {
		vs = &versionSchemas{schemas: map[string]*jsonschema.Schema{}, errs: map[string]error{}}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		for fname, raw := range rawSchemas {
			if err := c.AddResource(schemaBase+fname, specialize(raw, fv)); err != nil {
				compiledMu.Unlock()
				return nil, fmt.Errorf("schema %s: %w", fname, err)
			}
		}
		vs.compiler = c
		compiled[key] = vs
	}
	compiledMu.Unlock()

	vs.mu.Lock()
	defer vs.mu.Unlock()
	if s, ok := vs.schemas[name]; ok {
		return s, nil
	}
	if err, ok := vs.errs[name]; ok {
		return nil, err
	}
	s, err := vs.compiler.Compile(schemaBase + name + ".yml")
	if err != nil {
		err = fmt.Errorf("compile schema %s for %s: %w", name, key, err)
		vs.errs[name] = err
		return nil, err
	}
	vs.schemas[name] = s
	return s, nil
}

func verLess(fv *semver.Version, v string) bool {
	return fv.LessThan(mustVer(v))
}

// specialize returns a deep copy of the schema node with version directives
// applied for fv.
func specialize(node any, fv *semver.Version) any {
	switch n := node.(type) {
	case map[string]any:
		m := make(map[string]any, len(n))
		for k, v := range n {
			m[k] = v
		}
		if xb, ok := m["x-before"].(map[string]any); ok {
			vers := sortedKeys(xb)
			sort.Slice(vers, func(i, j int) bool { return mustVer(vers[j]).LessThan(mustVer(vers[i])) })
			for _, v := range vers {
				if !verLess(fv, v) {
					continue
				}
				over, _ := xb[v].(map[string]any)
				for k, val := range over {
					if val == nil {
						delete(m, k)
					} else {
						m[k] = val
					}
				}
			}
		}
		if en, ok := m["enum"].([]any); ok {
			since, _ := m["x-enum-since"].(map[string]any)
			until, _ := m["x-enum-until"].(map[string]any)
			if since != nil || until != nil {
				var out []any
				for _, e := range en {
					k := fmt.Sprint(e)
					if s, ok := since[k].(string); ok && verLess(fv, s) {
						continue
					}
					if u, ok := until[k].(string); ok && !verLess(fv, u) {
						continue
					}
					out = append(out, e)
				}
				m["enum"] = out
			}
		}
		out := make(map[string]any, len(m))
		for k, v := range m {
			if strings.HasPrefix(k, "x-") {
				continue
			}
			switch k {
			case "properties", "patternProperties", "$defs", "definitions", "dependentSchemas":
				props, ok := v.(map[string]any)
				if !ok {
					out[k] = v
					continue
				}
				pm := make(map[string]any, len(props))
				for pk, pv := range props {
					if !gateOK(pv, fv) {
						continue
					}
					pm[pk] = specialize(pv, fv)
				}
				out[k] = pm
			case "allOf", "anyOf", "oneOf", "prefixItems":
				arr, ok := v.([]any)
				if !ok {
					out[k] = v
					continue
				}
				var am []any
				for _, e := range arr {
					if gateOK(e, fv) {
						am = append(am, specialize(e, fv))
					}
				}
				if len(am) == 0 {
					continue
				}
				out[k] = am
			case "enum", "const", "required", "examples", "default":
				out[k] = v
			default:
				out[k] = specialize(v, fv)
			}
		}
		return out
	case []any:
		out := make([]any, len(n))
		for i, e := range n {
			out[i] = specialize(e, fv)
		}
		return out
	}
	return node
}

func gateOK(node any, fv *semver.Version) bool {
	m, ok := node.(map[string]any)
	if !ok {
		return true
	}
	if s, ok := m["x-since"].(string); ok && verLess(fv, s) {
		return false
	}
	if u, ok := m["x-until"].(string); ok && !verLess(fv, u) {
		return false
	}
	return true
}

// schemaCheck validates doc against the named schema and converts failures
// to problems (File left empty).
func (p *pkg) schemaCheck(name string, doc any) []Problem {
	s, err := schemaFor(name, p.fv)
	if err != nil {
		return []Problem{{Message: fmt.Sprintf("internal error: %v", err)}}
	}
	err = s.Validate(doc)
	if err == nil {
		return nil
	}
	verr, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return []Problem{{Message: err.Error()}}
	}
	var out []Problem
	collectErrors(verr, doc, &out)
	return dedupe(out)
}

func dedupe(in []Problem) []Problem {
	seen := map[string]bool{}
	var out []Problem
	for _, p := range in {
		k := p.Field + "\x00" + p.Message
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, p)
	}
	return out
}

func fieldPath(loc []string) string {
	if len(loc) == 0 {
		return "(root)"
	}
	return strings.Join(loc, ".")
}

// leafCount counts the reportable errors under e (used to choose the best
// branch of a failed anyOf/oneOf, as gojsonschema does).
func leafCount(e *jsonschema.ValidationError) int {
	if len(e.Causes) == 0 {
		return 1
	}
	n := 0
	for _, c := range e.Causes {
		n += leafCount(c)
	}
	return n
}

func collectErrors(e *jsonschema.ValidationError, doc any, out *[]Problem) {
	field := fieldPath(e.InstanceLocation)
	add := func(msg string) { *out = append(*out, Problem{Field: field, Message: msg}) }
	switch k := e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
		if o, ok := k.(*kind.OneOf); ok && len(o.Subschemas) > 1 {
			return // more than one branch matched: the summary line is dropped
		}
		var best *jsonschema.ValidationError
		for _, c := range e.Causes {
			if best == nil || leafCount(c) < leafCount(best) {
				best = c
			}
		}
		if best != nil {
			collectErrors(best, doc, out)
		}
		return
	case *kind.Required:
		for _, m := range k.Missing {
			if m == "secret" {
				add("variable identified as possible secret, secret parameter required to be set to true or false")
				continue
			}
			add(m + " is required")
		}
		return
	case *kind.AdditionalProperties:
		for _, pname := range k.Properties {
			add(fmt.Sprintf("Additional property %s is not allowed", pname))
		}
		return
	case *kind.Not, *kind.FalseSchema:
		add("Must not be present")
		return
	case *kind.Type:
		got := k.Got
		if got == "number" {
			if _, ok := lookupPath(doc, e.InstanceLocation).(int64); ok {
				got = "integer"
			}
		}
		add(fmt.Sprintf("Invalid type. Expected: %s, given: %s", strings.Join(k.Want, "/"), got))
		return
	case *kind.Enum:
		add(fmt.Sprintf("%s must be one of the following: %s", field, quoteList(k.Want)))
		return
	case *kind.Const:
		add(fmt.Sprintf("%s does not match: %s", field, quoteList([]any{k.Want})))
		return
	case *kind.Pattern:
		add(fmt.Sprintf("Does not match pattern '%s'", k.Want))
		return
	case *kind.MinItems:
		add(fmt.Sprintf("Array must have at least %d items", k.Want))
		return
	case *kind.MaxItems:
		add(fmt.Sprintf("Array must have at most %d items", k.Want))
		return
	case *kind.UniqueItems:
		add(fmt.Sprintf("array items[%d,%d] must be unique", k.Duplicates[0], k.Duplicates[1]))
		return
	case *kind.MinLength:
		add(fmt.Sprintf("String length must be greater than or equal to %d", k.Want))
		return
	case *kind.MaxLength:
		add(fmt.Sprintf("String length must be less than or equal to %d", k.Want))
		return
	case *kind.Minimum:
		add(fmt.Sprintf("Must be greater than or equal to %s", k.Want.RatString()))
		return
	case *kind.Maximum:
		add(fmt.Sprintf("Must be less than or equal to %s", k.Want.RatString()))
		return
	case *kind.MinProperties:
		add(fmt.Sprintf("Must have at least %d properties", k.Want))
		return
	case *kind.MaxProperties:
		add(fmt.Sprintf("Must have at most %d properties", k.Want))
		return
	case *kind.Format:
		add(fmt.Sprintf("Does not match format '%s'", k.Want))
		return
	case *kind.DependentRequired:
		add(fmt.Sprintf("Has a dependency on %s", strings.Join(k.Missing, ", ")))
		return
	case *kind.Contains, *kind.MinContains:
		return // "At least one of the items must match" is dropped as redundant
	}
	if len(e.Causes) == 0 {
		if e.ErrorKind != nil {
			add(fmt.Sprint(e.ErrorKind))
		}
		return
	}
	for _, c := range e.Causes {
		collectErrors(c, doc, out)
	}
}

func quoteList(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		switch x := v.(type) {
		case string:
			parts[i] = strconv.Quote(x)
		default:
			parts[i] = fmt.Sprint(x)
		}
	}
	return strings.Join(parts, ", ")
}

// lookupPath returns the value at loc inside doc (nil when absent).
func lookupPath(doc any, loc []string) any {
	cur := doc
	for _, k := range loc {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}
