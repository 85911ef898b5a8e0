package validate

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
)

var semverInString = regexp.MustCompile(`\d+\.\d+\.\d+`)

// kibanaAtLeast reports whether the kibana.version constraint only admits
// versions >= min.
func kibanaAtLeast(constraint, min string) bool {
	constraint = strings.TrimSpace(constraint)
	if constraint == "" {
		return false
	}
	if constraint == "^"+min {
		return true
	}
	found := semverInString.FindAllString(constraint, -1)
	if len(found) == 0 {
		return false
	}
	mv := mustVer(min)
	for _, f := range found {
		v, err := semver.NewVersion(f)
		if err != nil || v.LessThan(mv) {
			return false
		}
	}
	return true
}

func (p *pkg) checkKibanaAtLeast(min, msg, code string, _ bool) {
	c := str(conditionValue(p.manifest(), "kibana", "version"))
	if kibanaAtLeast(c, min) {
		return
	}
	pr := Problem{File: "manifest.yml", Message: msg, Code: code}
	if code != "" && !p.atLeast("3.0.0") {
		pr.warning = true
	}
	p.add(pr)
}

// --- R5 ---

func ruleMinimumKibana(p *pkg) {
	if p.typ == "input" && p.ver.Major() >= 1 {
		p.checkKibanaAtLeast("8.8.0", "conditions.kibana.version must be ^8.8.0 or greater for non experimental input packages (version > 1.0.0)", "", true)
	}
	if p.typ != "input" && p.exists("kibana/tags.yml") {
		p.checkKibanaAtLeast("8.10.0", "conditions.kibana.version must be ^8.10.0 or greater to include saved object tags file: kibana/tags.yml", "SVR00005", true)
	}
}

// kibanaObject is one kibana/<type>/<file>.json saved object.
type kibanaObject struct {
	dir, file, rel string
	doc            map[string]any
}

func (p *pkg) kibanaObjects() []kibanaObject {
	var out []kibanaObject
	for _, dir := range p.subdirs("kibana") {
		for _, f := range p.logicalFiles("kibana/" + dir) {
			if !strings.HasSuffix(f, ".json") {
				continue
			}
			rel := "kibana/" + dir + "/" + f
			v, fd, err := p.parsed(rel)
			if fd == nil || fd.err != nil || err != nil {
				continue
			}
			out = append(out, kibanaObject{dir: dir, file: f, rel: rel, doc: asMap(v)})
		}
	}
	return out
}

// --- R16, R18 ---

func ruleKibanaObjects(p *pkg) {
	objs := p.kibanaObjects()
	if p.typ != "input" {
		for _, o := range objs {
			id := asStr(o.doc["id"])
			want := strings.ReplaceAll(o.file, ".json", "")
			if id != want {
				p.addf(o.rel, "kibana object file [%s] defines non-matching ID [%s]", o.rel, id)
			}
			if o.dir == "security_rule" {
				ruleID := asStr(getPath(o.doc, "attributes", "rule_id"))
				if !strings.HasPrefix(id, ruleID) {
					p.addf(o.rel, "kibana object ID [%s] should start with rule ID [%s]", id, ruleID)
				}
			}
		}
	}
	if !p.atLeast("3.0.0") {
		return
	}
	defined := map[string]bool{}
	for _, o := range objs {
		defined[asStr(o.doc["id"])+"\x00"+asStr(o.doc["type"])] = true
	}
	for _, o := range objs {
		for _, r := range asList(o.doc["references"]) {
			rm := asMap(r)
			t := asStr(rm["type"])
			if t == "index-pattern" {
				continue
			}
			id := asStr(rm["id"])
			if !defined[id+"\x00"+t] {
				p.add(Problem{File: o.rel, Message: fmt.Sprintf("dangling reference found: %s (%s)", id, t), Code: "SVR00003"})
			}
		}
	}
}

// --- R38 ---

func ruleTags(p *pkg) {
	names := map[string]bool{}
	if v, fd, err := p.parsed("kibana/tags.yml"); fd != nil && err == nil {
		for _, t := range asList(v) {
			text := asStr(asMap(t)["text"])
			if text == "" {
				continue
			}
			if names[text] {
				p.add(Problem{File: "kibana/tags.yml", Message: fmt.Sprintf("duplicate tag name '%s' found", text), Code: "SVR00007"})
			}
			names[text] = true
		}
	}
	seen := map[string]bool{}
	for _, o := range p.kibanaObjects() {
		if o.dir != "tag" || asStr(o.doc["type"]) != "tag" {
			continue
		}
		n := asStr(getPath(o.doc, "attributes", "name"))
		switch {
		case names[n]:
			p.add(Problem{File: o.rel, Message: fmt.Sprintf("tag name '%s' is already defined in tags.yml", n), Code: "SVR00007"})
		case seen[n]:
			p.add(Problem{File: o.rel, Message: fmt.Sprintf("duplicate tag name '%s' found", n), Code: "SVR00007"})
		}
		seen[n] = true
	}
}

// --- R22 ---

func ruleCapabilities(p *pkg) {
	if !p.atLeast("2.10.0") || len(p.logicalFiles("kibana/security_rule")) == 0 {
		return
	}
	caps := conditionValue(p.manifest(), "elastic", "capabilities")
	for _, c := range asList(caps) {
		if asStr(c) == "security" {
			return
		}
	}
	p.addf("manifest.yml", "found security rule assets in package but security capability is missing")
}

// --- R13, R19, R20 ---

// decodeEmbedded turns a JSON-encoded string into a value (or returns v).
func decodeEmbedded(v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	var out any
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil
	}
	return out
}

func nonEmptyString(v any) bool { s, ok := v.(string); return ok && strings.TrimSpace(s) != "" }
func nonEmptyList(v any) bool   { l, ok := v.([]any); return ok && len(l) > 0 }

type panel struct {
	typ      string
	byValue  bool
	title    string
	visType  string
	editor   string
	filters  bool
	canQuery bool
}

func panelsOf(doc map[string]any) ([]panel, bool) {
	raw := getPath(doc, "attributes", "panelsJSON")
	if raw == nil {
		return nil, false
	}
	list, ok := decodeEmbedded(raw).([]any)
	if !ok {
		return nil, false
	}
	var out []panel
	for _, e := range list {
		pm := asMap(e)
		t, ok := pm["type"].(string)
		if !ok {
			continue
		}
		ec := asMap(pm["embeddableConfig"])
		pn := panel{typ: t}
		switch t {
		case "visualization":
			sv := asMap(ec["savedVis"])
			if sv != nil {
				pn.byValue = true
				pn.title = asStr(sv["title"])
				pn.visType = asStr(sv["type"])
				if pn.visType == "metrics" {
					if st := asStr(getPath(sv, "params", "type")); st != "" {
						pn.visType = st
						pn.editor = "TSVB"
					}
				}
				pn.filters = nonEmptyString(getPath(sv, "data", "searchSource", "query", "query")) ||
					nonEmptyList(getPath(sv, "data", "searchSource", "filter"))
			}
		case "lens", "map":
			at := asMap(ec["attributes"])
			if at != nil {
				pn.byValue = true
				pn.title = asStr(at["title"])
				ms := asMap(decodeEmbedded(at["mapStateJSON"]))
				pn.filters = nonEmptyString(getPath(at, "state", "query", "query")) || nonEmptyList(getPath(at, "state", "filters")) ||
					nonEmptyString(getPath(ms, "query", "query")) || nonEmptyList(ms["filters"])
			}
		}
		if pn.title == "" {
			pn.title = asStr(pm["title"])
		}
		out = append(out, pn)
	}
	return out, true
}

func editorName(visType, editor string) string {
	if editor != "" {
		return editor
	}
	switch visType {
	case "lens":
		return "Lens"
	case "map":
		return "Maps"
	case "search":
		return "Discover"
	case "vega":
		return "Vega"
	case "timelion":
		return "Timelion"
	}
	return "Aggs-based"
}

func legacyVis(visType, editor string) bool {
	if editor == "TSVB" {
		return visType != "markdown"
	}
	switch visType {
	case "markdown", "vega", "input_control_vis", "":
		return false
	}
	return true
}

func ruleDashboards(p *pkg) {
	if p.typ == "input" {
		return
	}
	for _, o := range p.kibanaObjects() {
		switch o.dir {
		case "dashboard":
			p.checkDashboard(o)
		case "visualization":
			if !p.atLeast("3.0.0") {
				continue
			}
			attrs := asMap(o.doc["attributes"])
			vs := asMap(decodeEmbedded(attrs["visState"]))
			vt := asStr(attrs["type"])
			if vt == "" {
				vt = asStr(vs["type"])
			}
			editor := ""
			if vt == "metrics" {
				editor = "TSVB"
				vt = asStr(getPath(vs, "params", "type"))
			}
			if legacyVis(vt, editor) {
				p.addf(o.rel, "found legacy visualization %q (%s, %s)", asStr(attrs["title"]), vt, editorName(vt, editor))
			}
		}
	}
}

func (p *pkg) checkDashboard(o kibanaObject) {
	// R13: by-reference visualizations.
	var refs []string
	for _, r := range asList(o.doc["references"]) {
		rm := asMap(r)
		switch t := asStr(rm["type"]); t {
		case "lens", "map", "visualization":
			refs = append(refs, fmt.Sprintf("%s (%s)", asStr(rm["id"]), t))
		}
	}
	if len(refs) > 0 {
		pr := Problem{File: o.rel, Code: "SVR00004",
			Message: fmt.Sprintf("references found in dashboard %s: %s", o.rel, strings.Join(refs, ", "))}
		if !p.atLeast("3.0.0") {
			pr.warning = true
		}
		p.add(pr)
	}
	if !p.atLeast("3.0.0") {
		return
	}
	panels, ok := panelsOf(o.doc)
	title := asStr(getPath(o.doc, "attributes", "title"))
	// R20: legacy by-value visualizations.
	for _, pn := range panels {
		if pn.typ == "visualization" && pn.byValue && legacyVis(pn.visType, pn.editor) {
			p.addf(o.rel, "%q contains legacy visualization: %q (%s, %s)", title, pn.title, pn.visType, editorName(pn.visType, pn.editor))
		}
	}
	// R19: filters.
	panelReason := ""
	if ok {
		allFiltered := true
		for _, pn := range panels {
			if !pn.byValue || pn.visType == "markdown" {
				continue
			}
			if !pn.filters {
				allFiltered = false
				panelReason = fmt.Sprintf("panel %q has no filter", pn.title)
				break
			}
		}
		if allFiltered {
			return
		}
	} else {
		panelReason = "no panels found"
	}
	ss := decodeEmbedded(getPath(o.doc, "attributes", "kibanaSavedObjectMeta", "searchSourceJSON"))
	if nonEmptyList(getPath(ss, "filter")) {
		return
	}
	code, dashReason := "SVR00002", "no filter in dashboard"
	if nonEmptyString(getPath(ss, "query", "query")) {
		code, dashReason = "SVR00001", "dashboard has query but no filter"
	}
	p.add(Problem{File: o.rel, Code: code, Message: fmt.Sprintf("expected filter in dashboard: %s and %s", dashReason, panelReason)})
}
