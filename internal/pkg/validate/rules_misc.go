package validate

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

func parseGoDuration(s string) (int64, error) {
	d, err := time.ParseDuration(s)
	return int64(d), err
}

// pipelineFiles lists every ingest pipeline file (logical paths).
func (p *pkg) pipelineFiles() []string {
	var out []string
	add := func(dir string) {
		for _, f := range p.logicalFiles(dir) {
			if strings.HasSuffix(f, ".yml") || strings.HasSuffix(f, ".json") {
				out = append(out, dir+"/"+f)
			}
		}
	}
	add("elasticsearch/ingest_pipeline")
	for _, ds := range p.dataStreams() {
		add("data_stream/" + ds + "/elasticsearch/ingest_pipeline")
	}
	return out
}

// yamlLineOf finds the line of the idx-th item of the named top-level list.
func yamlLineOf(n *yaml.Node, key string, idx int) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return 0
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key && n.Content[i+1].Kind == yaml.SequenceNode {
			if idx < len(n.Content[i+1].Content) {
				return n.Content[i+1].Content[idx].Line
			}
		}
	}
	return 0
}

func processorOf(v any) (string, map[string]any) {
	m := asMap(v)
	for k, x := range m {
		return k, asMap(x)
	}
	return "", nil
}

func rulePipelines(p *pkg) {
	for _, rel := range p.pipelineFiles() {
		v, fd, err := p.parsed(rel)
		if fd == nil || fd.err != nil || err != nil {
			continue
		}
		doc := asMap(v)
		if p.atLeast("3.1.0") {
			p.checkRenameMessage(rel, doc)
		}
		if p.typ == "integration" && p.atLeast("3.6.0") {
			p.checkPipelineTags(rel, doc, fd.node)
			p.checkOnFailure(rel, doc)
		}
	}
}

func (p *pkg) checkRenameMessage(rel string, doc map[string]any) {
	procs := asList(doc["processors"])
	renameIdx := -1
	for i, pr := range procs {
		name, body := processorOf(pr)
		if name == "rename" && asStr(body["field"]) == "message" && asStr(body["target_field"]) == "event.original" {
			renameIdx = i
			if strings.TrimSpace(asStr(body["if"])) != "ctx.event?.original == null" {
				p.add(Problem{File: rel, Field: fmt.Sprintf("processors.%d.rename", i), Code: "JSE00001",
					Message: `rename "message" to "event.original" processor requires if: 'ctx.event?.original == null'`})
			}
		}
	}
	if renameIdx < 0 {
		return
	}
	found, goodIf := false, false
	for _, pr := range procs {
		name, body := processorOf(pr)
		if name != "remove" {
			continue
		}
		f := body["field"]
		match := asStr(f) == "message"
		for _, x := range asList(f) {
			if asStr(x) == "message" {
				match = true
			}
		}
		if !match {
			continue
		}
		found = true
		if asBool(body["ignore_missing"]) && strings.TrimSpace(asStr(body["if"])) == "ctx.event?.original != null" {
			goodIf = true
		}
	}
	switch {
	case !found:
		p.add(Problem{File: rel, Field: "processors", Code: "JSE00001", Message: `rename "message" to "event.original" processor requires remove "message" processor`})
	case !goodIf:
		p.add(Problem{File: rel, Field: "processors", Code: "JSE00001", Message: `rename "message" to "event.original" processor requires remove "message" processor with if: 'ctx.event?.original != null'`})
	}
}

func (p *pkg) checkPipelineTags(rel string, doc map[string]any, node *yaml.Node) {
	seen := map[string]bool{}
	var walk func(list []any, top bool)
	walk = func(list []any, top bool) {
		for i, pr := range list {
			name, body := processorOf(pr)
			if name == "" {
				continue
			}
			line := 0
			if top {
				line = yamlLineOf(node, "processors", i)
			}
			where := fmt.Sprintf("%s processor", name)
			if line > 0 {
				where = fmt.Sprintf("%s processor at line %d", name, line)
			}
			tag, isStr := body["tag"].(string)
			switch {
			case !isStr || strings.TrimSpace(tag) == "":
				p.add(Problem{File: rel, Code: "SVR00006", Message: where + " missing required tag"})
			case seen[tag]:
				p.addf(rel, "%s has duplicate tag value: %q", where, tag)
			default:
				seen[tag] = true
			}
			walk(asList(body["on_failure"]), false)
		}
	}
	walk(asList(doc["processors"]), true)
}

var onFailureTokens = []string{"_ingest.on_failure_processor_type", "_ingest.on_failure_processor_tag", "_ingest.on_failure_message", "_ingest.pipeline"}

func (p *pkg) checkOnFailure(rel string, doc map[string]any) {
	of := asList(doc["on_failure"])
	kindOK := false
	var msgValue *string
	for _, pr := range of {
		name, body := processorOf(pr)
		switch {
		case name == "set" && asStr(body["field"]) == "event.kind" && str(body["value"]) == "pipeline_error":
			kindOK = true
		case (name == "set" || name == "append") && asStr(body["field"]) == "error.message":
			v := fmt.Sprint(body["value"])
			msgValue = &v
		}
	}
	if !kindOK {
		p.add(Problem{File: rel, Code: "SVR00008", Message: "pipeline on_failure handler must set event.kind to pipeline_error"})
	}
	if msgValue == nil {
		p.add(Problem{File: rel, Code: "SVR00009", Message: "pipeline on_failure handler must set error.message"})
		return
	}
	for _, t := range onFailureTokens {
		if !strings.Contains(*msgValue, t) {
			p.add(Problem{File: rel, Code: "SVR00009", Message: fmt.Sprintf("pipeline on_failure error.message must include %q", t)})
		}
	}
}

// --- R37 ---

func ruleHandlebars(p *pkg) {
	if p.typ == "content" {
		return
	}
	dirs := []string{"agent/input"}
	for _, ds := range p.dataStreams() {
		dirs = append(dirs, "data_stream/"+ds+"/agent/stream")
	}
	for _, dir := range dirs {
		for _, f := range p.logicalFiles(dir) {
			if !strings.HasSuffix(f, ".hbs") {
				continue
			}
			rel := dir + "/" + f
			fd, err := p.read(rel)
			if err != nil || fd.err != nil {
				continue
			}
			if err := checkHandlebars(string(fd.data)); err != nil {
				p.addf(rel, "invalid handlebars template: error validating %s: %v", rel, err)
			}
		}
	}
}

// --- R26 ---

var docsSectionsV1 = []string{
	"Overview",
	"What data does this integration collect?",
	"What do I need to use this integration?",
	"How do I deploy this integration?",
	"Troubleshooting",
	"Performance and scaling",
}

var mdHeading = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)

func ruleDocsStructure(p *pkg) {
	v, fd, err := p.parsed("validation.yml")
	if fd == nil || err != nil {
		return
	}
	dse := asMap(asMap(v)["docs_structure_enforced"])
	if !asBool(dse["enabled"]) {
		return
	}
	skip := map[string]bool{}
	for _, s := range asList(dse["skip"]) {
		skip[strings.ToLower(asStr(asMap(s)["title"]))] = true
	}
	var msgs []string
	files := p.logicalFiles("docs")
	sort.Strings(files)
	for _, f := range files {
		if !strings.HasSuffix(f, ".md") {
			continue
		}
		fdoc, err := p.read("docs/" + f)
		if err != nil || fdoc.err != nil {
			continue
		}
		heads := map[string]bool{}
		for _, line := range strings.Split(string(fdoc.data), "\n") {
			if m := mdHeading.FindStringSubmatch(strings.TrimRight(line, "\r")); m != nil {
				heads[strings.ToLower(strings.TrimSpace(m[1]))] = true
			}
		}
		for _, s := range docsSectionsV1 {
			if skip[strings.ToLower(s)] || heads[strings.ToLower(s)] {
				continue
			}
			msgs = append(msgs, fmt.Sprintf("missing required section '%s' in file '%s'", s, f))
		}
	}
	if len(msgs) > 0 {
		p.addf("docs", "%s", strings.Join(msgs, "\n"))
	}
}
