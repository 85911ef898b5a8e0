package validate

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }
func asList(v any) []any         { l, _ := v.([]any); return l }
func asStr(v any) string         { s, _ := v.(string); return s }
func asBool(v any) bool          { b, _ := v.(bool); return b }

// getPath walks nested maps by keys.
func getPath(v any, keys ...string) any {
	for _, k := range keys {
		m := asMap(v)
		if m == nil {
			return nil
		}
		v = m[k]
	}
	return v
}

// manifest returns the parsed package manifest (no dotted-key expansion).
func (p *pkg) manifest() map[string]any {
	v, _, _ := p.parsed("manifest.yml")
	return asMap(v)
}

// dataStreams lists the data stream folder names.
func (p *pkg) dataStreams() []string {
	if p.typ != "integration" {
		return nil
	}
	return p.subdirs("data_stream")
}

func (p *pkg) dsManifest(ds string) map[string]any {
	v, _, _ := p.parsed("data_stream/" + ds + "/manifest.yml")
	return asMap(v)
}

// conditionValue reads conditions["a.b"] or conditions.a.b.
func conditionValue(m map[string]any, a, b string) any {
	c := asMap(m["conditions"])
	if v, ok := c[a+"."+b]; ok {
		return v
	}
	return getPath(c, a, b)
}

// --- R1-R3: changelog ---

var githubIssueNumber = regexp.MustCompile(`/(\d+)$`)

func ruleChangelog(p *pkg) {
	const file = "changelog.yml"
	v, fd, err := p.parsed(file)
	if fd == nil || err != nil {
		return
	}
	entries := asList(v)
	if len(entries) == 0 {
		p.addf(file, "no versions found in changelog")
		return
	}
	var versions []string
	seen := map[string]bool{}
	for _, e := range entries {
		ver := str(asMap(e)["version"])
		if seen[ver] {
			p.addf(file, "versions in changelog must be unique, found at least two same versions (%s)", ver)
		}
		seen[ver] = true
		versions = append(versions, ver)
		for _, c := range asList(asMap(e)["changes"]) {
			link := asStr(asMap(c)["link"])
			if link == "" {
				continue
			}
			u, err := url.Parse(link)
			if err != nil {
				p.addf(file, "invalid URL %s: %v", link, err)
				continue
			}
			if strings.Contains(u.Host, "github.com") {
				m := githubIssueNumber.FindStringSubmatch(strings.TrimRight(u.Path, "/"))
				if m == nil {
					p.addf(file, "%s: issue number in changelog link should be a positive number", link)
				} else if n, err := strconv.Atoi(m[1]); err != nil || n <= 0 {
					p.addf(file, "%s: issue number in changelog link should be a positive number", link)
				}
			}
		}
	}
	first := versions[0]
	if first != p.version {
		ok := false
		if strings.HasSuffix(first, "-next") {
			for _, v := range versions[1:] {
				if v == p.version {
					ok = true
				}
			}
		}
		if !ok {
			p.addf(file, "current manifest version doesn't have changelog entry")
		}
	}
	fv, err := semver.NewVersion(first)
	if err != nil {
		return
	}
	for _, v := range versions[1:] {
		ev, err := semver.NewVersion(v)
		if err != nil {
			continue
		}
		if !ev.LessThan(fv) {
			p.addf(file, "changelog entry %s is greater than or equal to first changelog entry: %s", v, first)
		}
	}
}

// --- R4: prerelease tags ---

var allowedPrerelease = regexp.MustCompile(`^(next|SNAPSHOT|(beta|rc|preview)(([0-9]|[.-][0-9A-Za-z])([0-9A-Za-z-.]*[0-9A-Za-z])?)?)$`)

func rulePrerelease(p *pkg) {
	pre := p.ver.Prerelease()
	if pre == "" {
		return
	}
	if p.ver.Major() == 0 {
		p.addf("manifest.yml", "versions below 1.0.0 are considered technical previews, please remove prerelease tag (version: %s)", p.version)
		return
	}
	if p.atLeast("1.4.0") && !allowedPrerelease.MatchString(pre) {
		p.addf("manifest.yml", "prerelease tag %q is not allowed, use one of: next, SNAPSHOT, beta, rc, preview (optionally followed by a number) (version: %s)", pre, p.version)
	}
}

// --- formats: relative paths and data stream names ---

func (p *pkg) checkRelPath(file, field, src string) {
	rel := path.Clean(path.Join(path.Dir(file), src))
	fd, err := p.read(rel)
	if err != nil || fd.err != nil || int64(len(fd.data)) > 3*mb {
		p.add(Problem{File: file, Field: field, Message: "relative path is invalid, target doesn't exist or it exceeds the file size limit"})
	}
}

func (p *pkg) checkImages(file, prefix string, m map[string]any) {
	for _, key := range []string{"screenshots", "icons"} {
		for i, it := range asList(m[key]) {
			if src := asStr(asMap(it)["src"]); src != "" {
				p.checkRelPath(file, fmt.Sprintf("%s%s.%d.src", prefix, key, i), src)
			}
		}
	}
}

func ruleManifestFormats(p *pkg) {
	m := p.manifest()
	p.checkImages("manifest.yml", "", m)
	for i, pt := range asList(m["policy_templates"]) {
		ptm := asMap(pt)
		p.checkImages("manifest.yml", fmt.Sprintf("policy_templates.%d.", i), ptm)
		if p.typ != "integration" {
			continue
		}
		for j, ds := range asList(ptm["data_streams"]) {
			name := asStr(ds)
			if name == "" {
				continue
			}
			if _, err := p.dirStat("data_stream/" + name); err != nil {
				p.add(Problem{File: "manifest.yml", Field: fmt.Sprintf("policy_templates.%d.data_streams.%d", i, j), Message: "data stream doesn't exist"})
			}
		}
	}
}

// --- R32 ---

func ruleAgentVersion(p *pkg) {
	v := conditionValue(p.manifest(), "agent", "version")
	s, ok := v.(string)
	if !ok || v == nil {
		return
	}
	if _, err := semver.NewConstraint(s); err != nil {
		p.addf("manifest.yml", "invalid agent.version condition: %v", err)
	}
}

// --- variable scopes ---

type varScope struct {
	label    string // "package root", `policy template "x"`, ...
	field    string // JSON path of the scope object
	obj      map[string]any
	parents  []map[string]any // objects whose vars are visible
	kind     string           // root, template, input, stream
	template map[string]any
	file     string
}

func varNames(objs ...map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, o := range objs {
		for _, v := range asList(o["vars"]) {
			vm := asMap(v)
			if n := asStr(vm["name"]); n != "" {
				out[n] = vm
			}
		}
	}
	return out
}

// scopes enumerates root, policy templates, inputs and data stream streams.
func (p *pkg) scopes() []varScope {
	m := p.manifest()
	if m == nil {
		return nil
	}
	out := []varScope{{label: "package root", obj: m, kind: "root", file: "manifest.yml"}}
	for i, pt := range asList(m["policy_templates"]) {
		ptm := asMap(pt)
		out = append(out, varScope{label: fmt.Sprintf("policy template %q", asStr(ptm["name"])), field: fmt.Sprintf("policy_templates.%d", i),
			obj: ptm, parents: []map[string]any{m}, kind: "template", template: ptm, file: "manifest.yml"})
		for j, in := range asList(ptm["inputs"]) {
			inm := asMap(in)
			out = append(out, varScope{label: fmt.Sprintf("input %q of policy template %q", inputKey(inm), asStr(ptm["name"])),
				field: fmt.Sprintf("policy_templates.%d.inputs.%d", i, j), obj: inm, parents: []map[string]any{m, ptm}, kind: "input", template: ptm, file: "manifest.yml"})
		}
	}
	for _, ds := range p.dataStreams() {
		dm := p.dsManifest(ds)
		for j, st := range asList(dm["streams"]) {
			stm := asMap(st)
			var parents []map[string]any
			parents = append(parents, m)
			out = append(out, varScope{label: fmt.Sprintf("stream %d of data stream %q", j, ds), field: fmt.Sprintf("streams.%d", j),
				obj: stm, parents: parents, kind: "stream", file: "data_stream/" + ds + "/manifest.yml"})
		}
	}
	return out
}

func inputKey(in map[string]any) string {
	if t := asStr(in["type"]); t != "" {
		return t
	}
	return asStr(in["package"])
}

// inputVarsFor returns the vars of the policy-template inputs matching a stream input type.
func (p *pkg) inputVarsFor(input string) []map[string]any {
	var out []map[string]any
	for _, pt := range asList(p.manifest()["policy_templates"]) {
		for _, in := range asList(asMap(pt)["inputs"]) {
			inm := asMap(in)
			if asStr(inm["type"]) == input && input != "" {
				out = append(out, inm)
			}
		}
	}
	return out
}

// --- R23 ---

func ruleRequiredVars(p *pkg) {
	for _, s := range p.scopes() {
		rv := asMap(s.obj["required_vars"])
		if len(rv) == 0 {
			continue
		}
		objs := append([]map[string]any{s.obj}, s.parents...)
		if s.kind == "stream" {
			objs = append(objs, p.inputVarsFor(asStr(s.obj["input"]))...)
		}
		defined := varNames(objs...)
		for _, group := range sortedKeys(rv) {
			for _, e := range asList(rv[group]) {
				name := asStr(asMap(e)["name"])
				if name == "" {
					continue
				}
				def, ok := defined[name]
				if !ok {
					p.addf(s.file, "required var %q in optional group is not defined", name)
				} else if asBool(def["required"]) {
					p.addf(s.file, "required var %q in optional group is defined as always required", name)
				}
			}
		}
	}
}

// --- R24 ---

func ruleVarGroups(p *pkg) {
	if !p.atLeast("3.6.0") {
		return
	}
	for _, s := range p.scopes() {
		groups := asList(s.obj["var_groups"])
		if len(groups) == 0 {
			continue
		}
		objs := append([]map[string]any{s.obj}, s.parents...)
		defined := varNames(objs...)
		seen := map[string]bool{}
		for _, g := range groups {
			gm := asMap(g)
			gname := asStr(gm["name"])
			if seen[gname] {
				p.addf(s.file, "duplicate var_group name %q", gname)
			}
			seen[gname] = true
			opts := map[string]bool{}
			for _, o := range asList(gm["options"]) {
				om := asMap(o)
				oname := asStr(om["name"])
				if opts[oname] {
					p.addf(s.file, "duplicate option name %q in var_group %q", oname, gname)
				}
				opts[oname] = true
				for _, v := range asList(om["vars"]) {
					vn := asStr(v)
					def, ok := defined[vn]
					switch {
					case !ok:
						p.addf(s.file, "var %q referenced in var_group %q option %q is not defined", vn, gname, oname)
					case asBool(def["required"]) && asBool(gm["required"]):
						p.addf(s.file, "var %q in required var_group %q should not have required: true (requirement is inferred from var_group)", vn, gname)
					case asBool(def["required"]):
						p.addf(s.file, "var %q in non-required var_group %q should not have required: true (var_group is optional)", vn, gname)
					}
				}
			}
		}
	}
}

// --- R25 ---

func ruleSections(p *pkg) {
	for _, s := range p.scopes() {
		names := map[string]bool{}
		for _, sec := range asList(s.obj["sections"]) {
			n := asStr(asMap(sec)["name"])
			if names[n] {
				p.addf(s.file, "duplicate section name %q in %s", n, s.label)
			}
			names[n] = true
		}
		for _, v := range asList(s.obj["vars"]) {
			vm := asMap(v)
			if sec := asStr(vm["section"]); sec != "" && !names[sec] {
				p.addf(s.file, "var %q references undefined section %q in %s", asStr(vm["name"]), sec, s.label)
			}
		}
	}
}

// --- R27 ---

func ruleDeploymentModes(p *pkg) {
	if p.typ != "integration" {
		return
	}
	for _, pt := range asList(p.manifest()["policy_templates"]) {
		ptm := asMap(pt)
		name := asStr(ptm["name"])
		dm := asMap(ptm["deployment_modes"])
		defaultOn := true
		if v, ok := getPath(dm, "default", "enabled").(bool); ok {
			defaultOn = v
		}
		agentlessOn := asBool(getPath(dm, "agentless", "enabled"))
		enabled := map[string]bool{"default": defaultOn, "agentless": agentlessOn}
		supports := map[string]bool{}
		for _, in := range asList(ptm["inputs"]) {
			inm := asMap(in)
			modes := asList(inm["deployment_modes"])
			if _, has := inm["deployment_modes"]; !has {
				supports["default"], supports["agentless"] = true, true
				continue
			}
			for _, md := range modes {
				ms := asStr(md)
				supports[ms] = true
				if ms != "default" && ms != "agentless" {
					p.addf("manifest.yml", "input %q in policy template %q references unsupported deployment mode %q", inputKey(inm), name, ms)
				} else if !enabled[ms] {
					p.addf("manifest.yml", "input %q in policy template %q supports deployment mode %q, but this mode is not enabled in the policy template", inputKey(inm), name, ms)
				}
			}
		}
		for _, mode := range []string{"default", "agentless"} {
			if enabled[mode] && !supports[mode] && len(asList(ptm["inputs"])) > 0 {
				p.addf("manifest.yml", "policy template %q enables deployment mode %q but no input supports this mode", name, mode)
			}
		}
		if !defaultOn && agentlessOn && getPath(dm, "agentless", "release") != nil && len(asList(p.manifest()["policy_templates"])) == 1 {
			p.addf("manifest.yml", "policy template %q sets agentless.release but agentless is the only deployment mode; use the package version to indicate maturity instead", name)
		}
	}
}

// --- R28 ---

func ruleDurationVars(p *pkg) {
	if !p.atLeast("3.5.0") {
		return
	}
	for _, s := range p.scopes() {
		for _, v := range asList(s.obj["vars"]) {
			vm := asMap(v)
			if asStr(vm["type"]) != "duration" {
				continue
			}
			name := asStr(vm["name"])
			parse := func(key string) (int64, bool, bool) {
				raw, has := vm[key]
				if !has || raw == nil {
					return 0, false, true
				}
				sv, ok := raw.(string)
				if !ok {
					p.addf(s.file, "error in variable %q: %s must be a string", name, key)
					return 0, false, false
				}
				d, err := parseGoDuration(sv)
				if err != nil {
					p.addf(s.file, "error in variable %q: invalid %s %q: %v", name, key, sv, err)
					return 0, false, false
				}
				return d, true, true
			}
			mn, hasMin, ok1 := parse("min_duration")
			df, hasDef, ok2 := parse("default")
			mx, hasMax, ok3 := parse("max_duration")
			if !ok1 || !ok2 || !ok3 {
				continue
			}
			if hasMin && mn < 0 {
				p.addf(s.file, "error in variable %q: min_duration must not be negative", name)
			}
			if hasMin && hasMax && mn > mx {
				p.addf(s.file, "error in variable %q: min_duration is greater than max_duration", name)
			}
			if hasDef && hasMin && df < mn {
				p.addf(s.file, "error in variable %q: default is lower than min_duration", name)
			}
			if hasDef && hasMax && df > mx {
				p.addf(s.file, "error in variable %q: default is greater than max_duration", name)
			}
		}
	}
}

// --- R29 ---

func ruleInputTemplates(p *pkg) {
	if p.typ != "input" {
		return
	}
	files := p.logicalFiles("agent/input")
	for _, pt := range asList(p.manifest()["policy_templates"]) {
		ptm := asMap(pt)
		name := asStr(ptm["name"])
		tp := asStr(ptm["template_path"])
		tps := asList(ptm["template_paths"])
		if tp == "" && len(tps) == 0 {
			p.addf("manifest.yml", "policy template %q references template_path %q: template_path is required for input type packages", name, tp)
			continue
		}
		paths := []string{}
		if tp != "" {
			paths = append(paths, tp)
		}
		for _, x := range tps {
			paths = append(paths, asStr(x))
		}
		for _, t := range paths {
			if t == tp && len(tps) > 0 {
				continue // template_paths wins; the schema reports using both
			}
			if !templateFound(files, t) {
				label := t
				if tp != "" {
					label = tp
				}
				p.addf("manifest.yml", "policy template %q references template_path %q: template file not found", name, label)
			}
		}
	}
}

func templateFound(files []string, t string) bool {
	if t == "" {
		return false
	}
	for _, f := range files {
		if f == t || strings.HasSuffix(f, t) {
			return true
		}
	}
	return false
}

// --- R33 ---

func ruleIntegrationTemplates(p *pkg) {
	if p.typ != "integration" {
		return
	}
	inputFiles := p.logicalFiles("agent/input")
	for _, pt := range asList(p.manifest()["policy_templates"]) {
		ptm := asMap(pt)
		for _, in := range asList(ptm["inputs"]) {
			inm := asMap(in)
			var paths []string
			if tp := asStr(inm["template_path"]); tp != "" {
				paths = append(paths, tp)
			}
			for _, x := range asList(inm["template_paths"]) {
				paths = append(paths, asStr(x))
			}
			for _, t := range paths {
				if !templateFound(inputFiles, t) {
					p.addf("manifest.yml", "policy template %q: failed validation for policy input %q: template file not found", asStr(ptm["name"]), inputKey(inm))
				}
			}
		}
	}
	for _, ds := range p.dataStreams() {
		dm := p.dsManifest(ds)
		files := p.logicalFiles("data_stream/" + ds + "/agent/stream")
		for _, st := range asList(dm["streams"]) {
			stm := asMap(st)
			var paths []string
			for _, x := range asList(stm["template_paths"]) {
				paths = append(paths, asStr(x))
			}
			if len(paths) == 0 {
				if tp := asStr(stm["template_path"]); tp != "" {
					paths = []string{tp}
				} else if asStr(stm["package"]) != "" {
					continue
				} else {
					paths = []string{"stream.yml.hbs"}
				}
			}
			for _, t := range paths {
				if !templateFound(files, t) {
					label := asStr(stm["input"])
					if label == "" {
						label = asStr(stm["package"])
					}
					p.addf("data_stream/"+ds+"/manifest.yml", "data stream %q stream input %q: template file not found", "data_stream/"+ds, label)
				}
			}
		}
	}
}

// --- R30 ---

func ruleDynamicSignalTypes(p *pkg) {
	if !p.atLeast("3.6.0") {
		return
	}
	m := p.manifest()
	for _, pt := range asList(m["policy_templates"]) {
		ptm := asMap(pt)
		name := asStr(ptm["name"])
		if p.typ == "input" && asBool(ptm["dynamic_signal_types"]) {
			if in := asStr(ptm["input"]); in != "otelcol" {
				p.addf("manifest.yml", "policy template %q: dynamic_signal_types is only allowed when input is 'otelcol', got '%s'", name, in)
			}
			if _, has := ptm["type"]; has {
				p.addf("manifest.yml", "policy template %q: type field must not be set when dynamic_signal_types is true", name)
			}
		}
		for _, in := range asList(ptm["inputs"]) {
			inm := asMap(in)
			if asBool(inm["dynamic_signal_types"]) && asStr(inm["type"]) != "otelcol" {
				p.addf("manifest.yml", "policy template %q: input type %q: dynamic_signal_types is only allowed when input is 'otelcol'", name, inputKey(inm))
			}
		}
	}
	for _, ds := range p.dataStreams() {
		for i, st := range asList(p.dsManifest(ds)["streams"]) {
			stm := asMap(st)
			if asBool(stm["dynamic_signal_types"]) && asStr(stm["input"]) != "otelcol" {
				p.addf("data_stream/"+ds+"/manifest.yml", "stream %d with input type %q: dynamic_signal_types is only allowed when input is 'otelcol'", i, asStr(stm["input"]))
			}
		}
	}
}

// --- R31 ---

func ruleFleetReservedVars(p *pkg) {
	if !p.atLeast("3.6.1") || (p.typ != "integration" && p.typ != "input") {
		return
	}
	check := func(file, label string, vars []any, streamScope bool, input, dsType string, dynamic bool) {
		for _, v := range vars {
			vm := asMap(v)
			n, t := asStr(vm["name"]), asStr(vm["type"])
			if n != "use_apm" && n != "data_stream.dataset" {
				continue
			}
			if !streamScope {
				p.addf(file, "%s vars: variable %q must only be declared at stream level", label, n)
				continue
			}
			if n == "use_apm" {
				if t != "bool" {
					p.addf(file, "%s: variable %q must be type \"bool\", got %q", label, n, t)
				}
				if input != "otelcol" {
					p.addf(file, "%s: variable %q is only allowed with input \"otelcol\", got %q", label, n, input)
				}
				if dsType != "traces" && !dynamic {
					p.addf(file, "%s: variable %q is only allowed in a traces data stream or with dynamic_signal_types, got %q", label, n, dsType)
				}
			}
			if n == "data_stream.dataset" && t != "text" {
				p.addf(file, "%s: variable %q must be type \"text\", got %q", label, n, t)
			}
		}
	}
	m := p.manifest()
	check("manifest.yml", "package root", asList(m["vars"]), false, "", "", false)
	for _, pt := range asList(m["policy_templates"]) {
		ptm := asMap(pt)
		label := fmt.Sprintf("policy template %q", asStr(ptm["name"]))
		check("manifest.yml", label, asList(ptm["vars"]), p.typ == "input", asStr(ptm["input"]), asStr(ptm["type"]), asBool(ptm["dynamic_signal_types"]))
		for _, in := range asList(ptm["inputs"]) {
			check("manifest.yml", label+" input "+strconv.Quote(inputKey(asMap(in))), asList(asMap(in)["vars"]), false, "", "", false)
		}
	}
	for _, ds := range p.dataStreams() {
		dm := p.dsManifest(ds)
		for _, st := range asList(dm["streams"]) {
			stm := asMap(st)
			check("data_stream/"+ds+"/manifest.yml", fmt.Sprintf("stream with input type %q", asStr(stm["input"])), asList(stm["vars"]), true,
				asStr(stm["input"]), asStr(dm["type"]), asBool(stm["dynamic_signal_types"]))
		}
	}
}

// --- R34, R35 ---

func ruleCategories(p *pkg) {
	if p.typ != "integration" {
		return
	}
	m := p.manifest()
	pkgCats := map[string]bool{}
	for _, c := range asList(m["categories"]) {
		pkgCats[asStr(c)] = true
	}
	dsCats := map[string][]string{}
	for _, ds := range p.dataStreams() {
		for _, c := range asList(p.dsManifest(ds)["categories"]) {
			dsCats[ds] = append(dsCats[ds], asStr(c))
		}
	}
	for _, pt := range asList(m["policy_templates"]) {
		ptm := asMap(pt)
		var tcats []string
		for _, c := range asList(ptm["categories"]) {
			tcats = append(tcats, asStr(c))
		}
		if len(tcats) == 0 {
			continue
		}
		for _, d := range asList(ptm["data_streams"]) {
			ds := asStr(d)
			cats := dsCats[ds]
			if len(cats) == 0 {
				continue
			}
			var missing []string
			for _, tc := range tcats {
				if !contains(cats, tc) {
					missing = append(missing, tc)
				}
			}
			if len(missing) > 0 {
				p.addf("manifest.yml", "data stream %q manifest categories [%s] are missing policy template %q categories [%s] (defined in %q)",
					ds, strings.Join(cats, " "), asStr(ptm["name"]), strings.Join(missing, " "), "data_stream/"+ds+"/manifest.yml")
			}
		}
	}
	var pkgList []string
	for _, c := range asList(m["categories"]) {
		pkgList = append(pkgList, asStr(c))
	}
	for _, ds := range sortedKeys(dsCats) {
		var missing []string
		for _, c := range dsCats[ds] {
			parent, known := categoryParent(c)
			if !known {
				p.addf("data_stream/"+ds+"/manifest.yml", "data stream %q category %q is not a known category", ds, c)
				continue
			}
			if !pkgCats[parent] && !contains(missing, parent) {
				missing = append(missing, parent)
			}
		}
		if len(missing) > 0 {
			p.addf("manifest.yml", "package manifest categories [%s] are missing parent categories [%s] from data stream %q (defined in %q)",
				strings.Join(pkgList, " "), strings.Join(missing, " "), ds, "data_stream/"+ds+"/manifest.yml")
		}
	}
}

// --- R40 ---

func ruleDeprecation(p *pkg) {
	if !p.atLeast("3.6.0") || p.typ != "integration" {
		return
	}
	m := p.manifest()
	if _, dep := m["deprecated"]; dep {
		return
	}
	total, deprecated := 0, 0
	for _, pt := range asList(m["policy_templates"]) {
		for _, in := range asList(asMap(pt)["inputs"]) {
			total++
			if _, ok := asMap(in)["deprecated"]; ok {
				deprecated++
			}
		}
	}
	if total > 0 && total == deprecated {
		p.addf("manifest.yml", "all inputs are deprecated but the integration package is not marked as deprecated")
	}
}

// --- R41 ---

func ruleInputQualifier(p *pkg) {
	if !p.atLeast("3.6.0") || p.typ != "integration" || p.mode == ModeSource {
		return
	}
	for _, pt := range asList(p.manifest()["policy_templates"]) {
		ptm := asMap(pt)
		count := map[string]int{}
		unnamed := map[string]bool{}
		var order []string
		for _, in := range asList(ptm["inputs"]) {
			inm := asMap(in)
			t := asStr(inm["type"])
			if t == "" {
				continue
			}
			if count[t] == 0 {
				order = append(order, t)
			}
			count[t]++
			if asStr(inm["name"]) == "" {
				unnamed[t] = true
			}
		}
		for _, t := range order {
			if count[t] > 1 && unnamed[t] {
				p.add(Problem{File: "manifest.yml", Code: "SVR00010",
					Message: fmt.Sprintf("policy template %q: input with type %q must have a name when multiple inputs of the same type are present", asStr(ptm["name"]), t)})
			}
		}
	}
}

// --- R42 ---

func ruleReplacedBy(p *pkg) {
	if !p.atLeast("3.6.0") {
		return
	}
	check := func(file, what, want string, obj map[string]any) {
		rb := asMap(getPath(obj, "deprecated", "replaced_by"))
		for _, k := range sortedKeys(rb) {
			if k != want {
				p.addf(file, "%s: deprecated.replaced_by must use %q, found %q", what, want, k)
			}
		}
	}
	m := p.manifest()
	check("manifest.yml", "package", "package", m)
	for _, pt := range asList(m["policy_templates"]) {
		ptm := asMap(pt)
		check("manifest.yml", fmt.Sprintf("policy template %q", asStr(ptm["name"])), "policy_template", ptm)
		for _, in := range asList(ptm["inputs"]) {
			check("manifest.yml", fmt.Sprintf("input %q", inputKey(asMap(in))), "input", asMap(in))
		}
	}
	for _, ds := range p.dataStreams() {
		dm := p.dsManifest(ds)
		file := "data_stream/" + ds + "/manifest.yml"
		check(file, fmt.Sprintf("data stream %q", ds), "data_stream", dm)
		for _, st := range asList(dm["streams"]) {
			for _, v := range asList(asMap(st)["vars"]) {
				check(file, fmt.Sprintf("variable %q", asStr(asMap(v)["name"])), "variable", asMap(v))
			}
		}
	}
}

// --- R43 ---

func rulePackageReferences(p *pkg) {
	if !p.atLeast("3.6.0") || p.typ != "integration" {
		return
	}
	m := p.manifest()
	reqInput := map[string]bool{}
	reqContent := map[string]bool{}
	for i, r := range asList(getPath(m, "requires", "input")) {
		rm := asMap(r)
		reqInput[asStr(rm["package"])] = true
		if v, ok := rm["version"]; ok {
			vs := str(v)
			if _, err := semver.StrictNewVersion(vs); err != nil {
				p.add(Problem{File: "manifest.yml", Field: fmt.Sprintf("requires.input.%d.version", i),
					Message: fmt.Sprintf("version %q for package %q must be a valid semantic version, constraints are not allowed", vs, asStr(rm["package"]))})
			}
		}
	}
	for _, r := range asList(getPath(m, "requires", "content")) {
		reqContent[asStr(asMap(r)["package"])] = true
	}
	checkRef := func(file, where, ref string) {
		if ref == "" {
			return
		}
		if reqContent[ref] && !reqInput[ref] {
			p.addf(file, "%s references package %q which is a content package; only input packages can be referenced", where, ref)
		} else if !reqInput[ref] {
			p.addf(file, "%s references package %q which is not listed in requires section", where, ref)
		}
	}
	for i, pt := range asList(m["policy_templates"]) {
		for j, in := range asList(asMap(pt)["inputs"]) {
			checkRef("manifest.yml", fmt.Sprintf("policy_templates[%d].inputs[%d]", i, j), asStr(asMap(in)["package"]))
		}
	}
	for _, ds := range p.dataStreams() {
		for j, st := range asList(p.dsManifest(ds)["streams"]) {
			checkRef("data_stream/"+ds+"/manifest.yml", fmt.Sprintf("streams[%d]", j), asStr(asMap(st)["package"]))
		}
	}
}

// --- R44 ---

func ruleTestRequires(p *pkg) {
	if !p.atLeast("3.6.0") || p.typ != "integration" || p.mode == ModeBuild {
		return
	}
	const file = "_dev/test/config.yml"
	v, fd, err := p.parsed(file)
	if fd == nil || err != nil {
		return
	}
	reqs := map[string]string{}
	for _, r := range asList(getPath(p.manifest(), "requires", "input")) {
		reqs[asStr(asMap(r)["package"])] = str(asMap(r)["version"])
	}
	for _, r := range asList(getPath(p.manifest(), "requires", "content")) {
		reqs[asStr(asMap(r)["package"])] = str(asMap(r)["version"])
	}
	cfg := asMap(v)
	for _, kindName := range sortedKeys(cfg) {
		for i, r := range asList(getPath(cfg, kindName, "requires")) {
			rm := asMap(r)
			if src, ok := rm["source"]; ok {
				s := asStr(src)
				if path.IsAbs(s) || strings.HasPrefix(s, "/") {
					p.addf(file, "%s.requires[%d] source %q must be a relative path", kindName, i, s)
				} else if !p.sourceExists(path.Clean(s)) {
					p.addf(file, "%s.requires[%d] source %q does not exist", kindName, i, s)
				}
				continue
			}
			pk, ver := asStr(rm["package"]), str(rm["version"])
			cons, listed := reqs[pk]
			if !listed {
				p.addf(file, "%s.requires[%d] references package %q which is not listed in manifest requires section", kindName, i, pk)
				continue
			}
			c, err1 := semver.NewConstraint(cons)
			sv, err2 := semver.NewVersion(ver)
			if err1 == nil && err2 == nil && !c.Check(sv) {
				p.addf(file, "%s.requires[%d] package %q version %q does not satisfy constraint %q", kindName, i, pk, ver, cons)
			}
		}
	}
}

// --- R46, R47: build-mode rules ---

func ruleBuildMode(p *pkg) {
	if p.mode != ModeBuild {
		return
	}
	for _, f := range p.fieldFiles() {
		for _, fl := range f.flat {
			if fl.external != "" {
				p.addf(f.path, "field %q has external: %s reference, which is not allowed in built packages", fl.name, fl.external)
			}
		}
	}
	if p.typ != "integration" {
		return
	}
	for _, ds := range p.dataStreams() {
		for i, st := range asList(p.dsManifest(ds)["streams"]) {
			if asStr(asMap(st)["package"]) != "" {
				p.addf("data_stream/"+ds+"/manifest.yml", "stream[%d] has 'package:' which is source-only", i)
			}
		}
	}
	for _, pt := range asList(p.manifest()["policy_templates"]) {
		for i, in := range asList(asMap(pt)["inputs"]) {
			if asStr(asMap(in)["package"]) != "" {
				p.addf("manifest.yml", "input[%d] has 'package:' which is source-only", i)
			}
		}
	}
}

// --- R15 ---

func ruleProfilesGA(p *pkg) {
	if !p.isGA() {
		return
	}
	for _, ds := range p.dataStreams() {
		if asStr(p.dsManifest(ds)["type"]) == "profiles" {
			p.addf("data_stream/"+ds+"/manifest.yml", "profiles data type cannot be used in GA packages")
		}
	}
}

// --- R14 ---

func ruleILM(p *pkg) {
	if !p.atLeast("2.0.0") {
		return
	}
	for _, ds := range p.dataStreams() {
		dm := p.dsManifest(ds)
		pol := asStr(dm["ilm_policy"])
		if pol == "" {
			continue
		}
		file := "data_stream/" + ds + "/manifest.yml"
		prefix := fmt.Sprintf("%s-%s.%s-", asStr(dm["type"]), p.name, ds)
		if !strings.HasPrefix(pol, prefix) {
			p.add(Problem{File: file, Field: "ilm_policy", Message: fmt.Sprintf("ILM policy %q must start with %q", pol, prefix)})
			continue
		}
		rest := strings.TrimPrefix(pol, prefix)
		want := "data_stream/" + ds + "/elasticsearch/ilm/" + rest + ".json"
		if !p.exists(want) && !p.exists(strings.TrimSuffix(want, ".json")+".yml") {
			p.add(Problem{File: file, Field: "ilm_policy", Message: fmt.Sprintf("ILM policy %q not found in package, expected definition in %q", pol, want)})
		}
	}
}

// --- R17 ---

func ruleRoutingRules(p *pkg) {
	if !p.atLeast("2.9.0") {
		return
	}
	for _, ds := range p.dataStreams() {
		v, fd, err := p.parsed("data_stream/" + ds + "/routing_rules.yml")
		if fd == nil || err != nil || len(asList(v)) == 0 {
			continue
		}
		if asStr(p.dsManifest(ds)["dataset"]) == "" {
			p.addf("data_stream/"+ds+"/manifest.yml", "routing rules defined in data stream %q but dataset field is missing: dataset field is required in manifest for data stream %q", ds, ds)
		}
	}
}

func sortStrings(s []string) []string { sort.Strings(s); return s }

// sourceExists checks a path relative to the package root; paths leaving the
// root are checked on disk when Options.Dir is known, else assumed present.
func (p *pkg) sourceExists(rel string) bool {
	if rel == ".." || strings.HasPrefix(rel, "../") {
		if p.opts.Dir == "" {
			return true
		}
		_, err := os.Stat(filepath.Join(p.opts.Dir, filepath.FromSlash(rel)))
		return err == nil
	}
	if _, err := p.dirStat(rel); err == nil {
		return true
	}
	return p.exists(rel)
}
