package validate

import (
	"fmt"
	"sort"
	"strings"
)

// flatField is one field definition with its full dotted name.
type flatField struct {
	name     string
	typ      string
	file     string
	leaf     bool
	external string
	obj      map[string]any
}

type fieldFile struct {
	path string
	flat []flatField
}

// fieldSet groups field files by owner (data stream, input package, transform).
type fieldSet struct {
	kind  string // "data stream", "input", "transform"
	name  string
	files []fieldFile
}

func flattenFields(list []any, prefix, file string, out *[]flatField, depth int) {
	if depth > 64 {
		return
	}
	for _, e := range list {
		m := asMap(e)
		if m == nil {
			continue
		}
		n := asStr(m["name"])
		full := n
		if prefix != "" {
			full = prefix + "." + n
		}
		sub, hasSub := m["fields"]
		ff := flatField{name: full, typ: asStr(m["type"]), file: file, obj: m, external: asStr(m["external"])}
		ff.leaf = !hasSub || len(asList(sub)) == 0
		if ff.typ == "group" && ff.leaf {
			ff.leaf = false
		}
		*out = append(*out, ff)
		if hasSub {
			flattenFields(asList(sub), full, file, out, depth+1)
		}
	}
}

func (p *pkg) loadFieldDir(dir string) []fieldFile {
	var out []fieldFile
	for _, f := range p.logicalFiles(dir) {
		if !strings.HasSuffix(f, ".yml") {
			continue
		}
		rel := dir + "/" + f
		v, fd, err := p.parsed(rel)
		if fd == nil || fd.err != nil {
			continue
		}
		if err != nil {
			continue // reported by the schema pass
		}
		var flat []flatField
		flattenFields(asList(v), "", rel, &flat, 0)
		out = append(out, fieldFile{path: rel, flat: flat})
	}
	return out
}

func (p *pkg) fieldSets() []fieldSet {
	var sets []fieldSet
	switch p.typ {
	case "integration":
		for _, ds := range p.dataStreams() {
			sets = append(sets, fieldSet{kind: "data stream", name: ds, files: p.loadFieldDir("data_stream/" + ds + "/fields")})
		}
		for _, t := range p.subdirs("elasticsearch/transform") {
			sets = append(sets, fieldSet{kind: "transform", name: t, files: p.loadFieldDir("elasticsearch/transform/" + t + "/fields")})
		}
	case "input":
		sets = append(sets, fieldSet{kind: "input", files: p.loadFieldDir("fields")})
	}
	return sets
}

func (p *pkg) fieldFiles() []fieldFile {
	var out []fieldFile
	for _, s := range p.fieldSets() {
		out = append(out, s.files...)
	}
	return out
}

var dimensionTypes = map[string]bool{"constant_keyword": true, "keyword": true, "long": true, "integer": true, "short": true,
	"byte": true, "double": true, "float": true, "half_float": true, "scaled_float": true, "unsigned_long": true, "ip": true}

func ruleFields(p *pkg) {
	sets := p.fieldSets()
	hasRuntime := false
	buildDeps, buildFound := p.buildDependencies()
	for _, s := range sets {
		leaves := 0
		where := map[string][]string{}
		var order []string
		defined := map[string]flatField{}
		hasDimension := false
		for _, f := range s.files {
			for _, fl := range f.flat {
				if fl.typ == "group" {
					if _, ok := fl.obj["unit"]; ok {
						p.addf(f.path, "field %q can't have unit property'", fl.name)
					}
					if _, ok := fl.obj["metric_type"]; ok {
						p.addf(f.path, "field %q can't have metric type property'", fl.name)
					}
				}
				if _, ok := fl.obj["runtime"]; ok && fl.obj["runtime"] != false {
					hasRuntime = true
				}
				if asBool(fl.obj["dimension"]) {
					hasDimension = true
					if fl.external == "" && !dimensionTypes[fl.typ] {
						p.addf(f.path, "field %q of type %s can't be a dimension, allowed types for dimensions: constant_keyword, keyword, long, integer, short, byte, double, float, half_float, scaled_float, unsigned_long, ip", fl.name, fl.typ)
					}
				}
				if _, ok := fl.obj["date_format"]; ok && fl.typ != "date" {
					p.addf(f.path, "field %q of type %s can't set date_format. date_format is allowed for date field type only", fl.name, fl.typ)
				}
				if fl.external != "" && p.mode != ModeBuild {
					if !buildFound {
						p.addf(f.path, "field %s with external key defined (%q) but no _dev/build/build.yml found", fl.name, fl.external)
					} else if !buildDeps[fl.external] {
						p.addf(f.path, "field %s with external key defined (%q) but no definition found for it (_dev/build/build.yml)", fl.name, fl.external)
					}
				}
				if !fl.leaf {
					continue
				}
				leaves++
				if _, ok := where[fl.name]; !ok {
					order = append(order, fl.name)
				}
				if !contains(where[fl.name], f.path) {
					where[fl.name] = append(where[fl.name], f.path)
				} else {
					where[fl.name] = append(where[fl.name], f.path)
				}
				if _, ok := defined[fl.name]; !ok {
					defined[fl.name] = fl
				}
			}
		}
		if leaves > 2048 {
			switch s.kind {
			case "input":
				p.addf("fields", "input package has more than 2048 fields (%d)", leaves)
			default:
				p.addf("", "%s %s has more than 2048 fields (%d)", s.kind, s.name, leaves)
			}
		}
		if p.atLeast("2.0.0") {
			for _, n := range order {
				if len(where[n]) < 2 {
					continue
				}
				paths := append([]string(nil), where[n]...)
				sort.Strings(paths)
				suffix := ""
				switch s.kind {
				case "data stream":
					suffix = fmt.Sprintf(" for data stream %q", s.name)
				case "transform":
					suffix = fmt.Sprintf(" for transform %q", s.name)
				}
				p.addf(paths[0], "field %q is defined multiple times%s, found in: %s", n, suffix, strings.Join(paths, ", "))
			}
		}
		if s.kind != "transform" && len(defined) > 0 {
			req := []struct{ name, typ string }{
				{"data_stream.type", "constant_keyword"}, {"data_stream.dataset", "constant_keyword"},
				{"data_stream.namespace", "constant_keyword"}, {"@timestamp", "date"},
			}
			for _, r := range req {
				fl, ok := defined[r.name]
				if !ok {
					if s.kind == "data stream" {
						p.addf("data_stream/"+s.name+"/fields", "expected field %q with type %q not found in datastream %q", r.name, r.typ, s.name)
					} else {
						p.addf("fields", "expected field %q with type %q not found", r.name, r.typ)
					}
					continue
				}
				if fl.external == "" && fl.typ != r.typ {
					p.addf(fl.file, "expected type %q for required field %q, found %q in %q", r.typ, r.name, fl.typ, fl.file)
				}
			}
		}
		if s.kind == "data stream" && p.atLeast("3.0.1") {
			if asStr(getPath(p.dsManifest(s.name), "elasticsearch", "index_mode")) == "time_series" && !hasDimension {
				p.addf("data_stream/"+s.name+"/manifest.yml", "time series index mode enabled in data stream %q, but no dimension field found", s.name)
			}
		}
	}
	if hasRuntime {
		p.checkKibanaAtLeast("8.10.0", "conditions.kibana.version must be ^8.10.0 or greater to include runtime fields", "", p.atLeast("3.0.0"))
	}
}

// buildDependencies reads _dev/build/build.yml dependencies keys.
func (p *pkg) buildDependencies() (map[string]bool, bool) {
	if p.mode == ModeBuild {
		return nil, false
	}
	v, fd, err := p.parsed("_dev/build/build.yml")
	if fd == nil {
		return nil, false
	}
	deps := map[string]bool{}
	if err == nil {
		for k := range asMap(asMap(v)["dependencies"]) {
			deps[k] = true
		}
	}
	return deps, true
}

// ruleEmbeddedECS (R45, source mode): data stream dynamic_templates keys must
// not start with _embedded_ecs.
func ruleEmbeddedECS(p *pkg) {
	if p.mode != ModeSource || p.typ != "integration" {
		return
	}
	for _, ds := range p.dataStreams() {
		tpls := asList(getPath(p.dsManifest(ds), "elasticsearch", "index_template", "mappings", "dynamic_templates"))
		for i, t := range tpls {
			for _, k := range sortedKeys(asMap(t)) {
				if strings.HasPrefix(k, "_embedded_ecs") {
					p.add(Problem{File: "data_stream/" + ds + "/manifest.yml",
						Field:   fmt.Sprintf("elasticsearch.index_template.mappings.dynamic_templates.%d", i),
						Message: fmt.Sprintf("dynamic template %q uses the reserved prefix _embedded_ecs, which is only allowed in built packages", k)})
				}
			}
		}
	}
}
