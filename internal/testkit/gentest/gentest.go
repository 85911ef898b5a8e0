// Package gentest writes reproducible, randomly varied package folders
// for differential tests against the reference registry (EPR). It varies
// every manifest field EPR reads: nested and dotted keys, present, absent,
// empty and null values, a list or a single value, YAML 1.1 scalars (yes,
// 0755, 1e3), unknown keys, every package type, input type and deployment
// mode. Every package it writes is one EPR loads with package validation
// off; a seed reproduces the same folders byte for byte.
package gentest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Inputs are the input types generated packages use: every input with an
// ingestion method, and one without.
var Inputs = []string{
	"cel", "httpjson", "winlog", "aws/metrics", "azure/metrics", "o365audit", "docker/metrics", "mysql/metrics", "redis", "jolokia/metrics",
	"filestream", "logfile", "system/metrics", "syslog", "tcp", "udp", "http_endpoint",
	"aws-s3", "azure-blob-storage", "aws-cloudwatch", "azure-eventhub", "etw", "gcp-pubsub",
	"gcs", "journald", "kafka", "lumberjack", "netflow", "prometheus/metrics", "unknown/input",
}

// Categories mixes known categories, subcategories and unknown ones.
var Categories = []string{"web", "security", "observability", "datastore", "custom_logs", "aws", "not_a_category", "cloud", "siem", "infrastructure"}

// Write writes n packages generated from seed under dir, as
// dir/NAME/VERSION/, and returns their folders in order.
func Write(dir string, seed uint64, n int) ([]string, error) {
	var out []string
	for i := range n {
		g := &gen{r: rand.New(rand.NewPCG(seed, uint64(i))), files: map[string]string{}}
		name := fmt.Sprintf("gen_%d_%d", seed%1000, i)
		version := g.version()
		g.pkg(name, version)
		root := filepath.Join(dir, name, version)
		paths := make([]string, 0, len(g.files))
		for p := range g.files {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			full := filepath.Join(root, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(full, []byte(g.files[p]), 0o644); err != nil {
				return nil, err
			}
		}
		out = append(out, root)
	}
	return out, nil
}

type gen struct {
	r     *rand.Rand
	files map[string]string
}

func (g *gen) p(prob float64) bool { return g.r.Float64() < prob }

func pick[T any](g *gen, from []T) T { return from[g.r.IntN(len(from))] }

func (g *gen) version() string {
	v := fmt.Sprintf("%d.%d.%d", g.r.IntN(3), g.r.IntN(10), g.r.IntN(10))
	if g.p(0.2) {
		v += pick(g, []string{"-rc1", "-beta.2", "-preview1", "-SNAPSHOT"})
	}
	return v
}

// yw builds YAML text with indentation.
type yw struct {
	b strings.Builder
}

func (w *yw) line(indent int, format string, args ...any) {
	w.b.WriteString(strings.Repeat("  ", indent))
	fmt.Fprintf(&w.b, format, args...)
	w.b.WriteByte('\n')
}

// text returns a YAML scalar for a string field: plain, quoted, or a
// scalar of another YAML type that EPR turns into a string.
func (g *gen) text(s string) string {
	switch g.r.IntN(10) {
	case 0:
		return fmt.Sprintf("%q", s)
	case 1:
		return "'" + s + "'"
	case 2:
		return pick(g, []string{"123", "1.50", "yes", "1e3", "0755", "true", "0x1F", "-7", "'${var.x} $$ {{hbs}}'", `"tab\there <b>&amp;</b> \u00e9"`})
	}
	return s
}

// boolean returns a YAML boolean in one of YAML 1.1's spellings.
func (g *gen) boolean() string {
	return pick(g, []string{"true", "false", "yes", "no", "on", "off", "True", "FALSE", "y", "N", "'true'", `"0"`, "'t'", "'F'"})
}

// list writes key with values as a block list, a flow list, or (one value)
// a scalar.
func (g *gen) list(w *yw, indent int, key string, vals []string) {
	switch {
	case len(vals) == 0:
		w.line(indent, "%s: %s", key, pick(g, []string{"[]", "null", ""}))
	case len(vals) == 1 && g.p(0.3):
		w.line(indent, "%s: %s", key, vals[0])
	case g.p(0.5):
		w.line(indent, "%s: [%s]", key, strings.Join(vals, ", "))
	default:
		w.line(indent, "%s:", key)
		for _, v := range vals {
			w.line(indent+1, "- %s", v)
		}
	}
}

func (g *gen) unknown(w *yw, indent int) {
	if g.p(0.3) {
		w.line(indent, "x_unknown_%d: {a: 1, b: [x, y]}", g.r.IntN(100))
	}
}

func (g *gen) pkg(name, version string) {
	typ := pick(g, []string{"integration", "integration", "input", "content", ""})
	w := &yw{}
	w.line(0, "format_version: %s", pick(g, []string{"3.3.2", "2.10.0", "1.0.0", "3.0.0"}))
	w.line(0, "name: %s", name)
	switch g.r.IntN(5) {
	case 0:
	case 1:
		w.line(0, "title: %s", pick(g, []string{`""`, "null", "42"}))
	default:
		w.line(0, "title: %s", g.text("Generated "+name))
	}
	w.line(0, "version: %s", version)
	switch g.r.IntN(4) {
	case 0:
		w.line(0, "description: %s", pick(g, []string{"null", `""`, "", "3.0"}))
	default:
		w.line(0, "description: %s", g.text("A generated package <&> for tests"))
	}
	if typ != "" {
		w.line(0, "type: %s", typ)
	}
	if g.p(0.4) {
		w.line(0, "release: %s", pick(g, []string{"ga", "beta", "experimental"}))
	}
	if g.p(0.5) {
		if g.p(0.5) {
			w.line(0, "source.license: %s", pick(g, []string{"Elastic-2.0", "Apache-2.0"}))
		} else {
			w.line(0, "source:\n  license: Apache-2.0")
		}
	}
	if g.p(0.3) {
		w.line(0, "license: %s", pick(g, []string{"basic", "platinum"}))
	}
	g.conditions(w)
	if g.p(0.7) {
		g.owner(w)
	}
	if g.p(0.8) {
		n := g.r.IntN(3)
		var cats []string
		for range n {
			cats = append(cats, pick(g, Categories))
		}
		switch {
		case g.p(0.1):
			w.line(0, "categories: {a: web}")
		case g.p(0.1):
			w.line(0, "categories: [web, null, security]")
		default:
			g.list(w, 0, "categories", cats)
		}
	}
	if g.p(0.3) {
		w.line(0, "policy_templates_behavior: %s", pick(g, []string{"all", "combined_policy", "individual_policies"}))
	}
	g.images(w, 0, "icons", "img/icon", "image/svg+xml")
	g.images(w, 0, "screenshots", "img/shot", "image/png")
	if g.p(0.3) {
		g.deprecated(w, 0)
	}
	if g.p(0.2) {
		w.line(0, "group: %s", pick(g, []string{"g1", "web"}))
	}
	if g.p(0.25) {
		g.discovery(w, name)
	}
	if g.p(0.2) {
		w.line(0, "requires:")
		w.line(1, "input:")
		w.line(2, "- package: other_input")
		w.line(3, "version: %s", pick(g, []string{"1.0.0", `"^2.0.0"`}))
		if g.p(0.5) {
			w.line(1, "content:\n    - {package: other_content, version: 0.1.0}")
		}
	}
	if g.p(0.3) {
		g.vars(w, 0, "vars")
	}
	if g.p(0.2) {
		if g.p(0.5) {
			w.line(0, "elasticsearch.privileges.cluster: [monitor, manage_ilm]")
		} else {
			w.line(0, "elasticsearch:\n  privileges:\n    cluster: monitor")
		}
	}
	if g.p(0.2) {
		w.line(0, "agent.privileges.root: %s", g.boolean())
	}
	if g.p(0.05) {
		// Keys EPR reads although it computes them: overwritten. (A
		// manifest's own data_streams list is left out: EPR over zips
		// lists it twice in /search, see docs/registry.md.)
		w.line(0, "readme: /ignored.md\nassets: [ignored]\ndownload: /ignored.zip\nsignature_path: /x.sig")
	}
	var streams []string
	if typ == "integration" || typ == "" {
		for i := range g.r.IntN(4) {
			ds := fmt.Sprintf("ds%d", i)
			streams = append(streams, ds)
			g.dataStream(name, ds)
		}
	}
	if typ != "content" {
		g.policyTemplates(w, typ, streams)
	}
	g.unknown(w, 0)
	g.files["manifest.yml"] = w.b.String()
	g.files["docs/README.md"] = "# " + name + "\n"
	g.files["changelog.yml"] = "- version: " + version + "\n  changes: []\n"
	if g.p(0.3) {
		g.files["kibana/dashboard/"+name+"-overview.json"] = "{}\n"
	}
	if g.p(0.2) {
		g.files["docs/.DS_Store"] = "x"
	}
}

func (g *gen) conditions(w *yw) {
	if !g.p(0.8) {
		return
	}
	kib := pick(g, []string{`"^8.12.0"`, `"^7.17.0 || ^8.0.0"`, `">=8.0.0"`, "8.15.0"})
	switch g.r.IntN(4) {
	case 0:
		w.line(0, "conditions.kibana.version: %s", kib)
	case 1:
		w.line(0, "conditions:")
		w.line(1, "kibana.version: %s", kib)
		if g.p(0.5) {
			w.line(1, "elastic.subscription: %s", pick(g, []string{"basic", "gold", "platinum"}))
		}
	case 2:
		w.line(0, "conditions:")
		w.line(1, "kibana:")
		w.line(2, "version: %s", kib)
		w.line(1, "elastic:")
		if g.p(0.7) {
			w.line(2, "subscription: %s", pick(g, []string{"basic", "enterprise"}))
		}
		if g.p(0.6) {
			g.list(w, 2, "capabilities", []string{pick(g, []string{"observability", "security", "apm"})})
		}
		if g.p(0.4) {
			w.line(1, "agent:\n      version: %s", pick(g, []string{`"^8.13.0"`, `">=9.0.0"`}))
		}
	case 3:
		w.line(0, "conditions: {}")
	}
}

func (g *gen) owner(w *yw) {
	switch g.r.IntN(3) {
	case 0:
		w.line(0, "owner.github: elastic/team-%d", g.r.IntN(9))
		if g.p(0.5) {
			w.line(0, "owner.type: %s", pick(g, []string{"elastic", "partner", "community"}))
		}
	case 1:
		w.line(0, "owner:\n  type: elastic\n  github: elastic/obs")
	case 2:
		w.line(0, "owner: {github: elastic/sec}")
	}
}

func (g *gen) images(w *yw, indent int, key, stem, mime string) {
	if !g.p(0.5) {
		return
	}
	w.line(indent, "%s:", key)
	for i := range 1 + g.r.IntN(2) {
		src := fmt.Sprintf("/%s-%d.%s", stem, i, map[bool]string{true: "svg", false: "png"}[mime == "image/svg+xml"])
		g.files[strings.TrimPrefix(src, "/")] = "img"
		w.line(indent+1, "- src: %s", src)
		if g.p(0.7) {
			w.line(indent+2, "title: %s", g.text("Image "+stem))
		}
		if g.p(0.5) {
			w.line(indent+2, "size: 32x32")
		}
		if g.p(0.6) {
			w.line(indent+2, "type: %s", mime)
		}
		if g.p(0.1) {
			w.line(indent+2, "dark_mode: true")
		}
	}
}

func (g *gen) deprecated(w *yw, indent int) {
	w.line(indent, "deprecated:")
	if g.p(0.8) {
		w.line(indent+1, "since: %s", pick(g, []string{"1.2.0", `"2.0.0"`}))
	}
	w.line(indent+1, "description: %s", g.text("Use something else"))
	if g.p(0.5) {
		key := pick(g, []string{"package", "policy_template", "input", "data_stream", "variable"})
		if g.p(0.5) {
			w.line(indent+1, "replaced_by.%s: other", key)
		} else {
			w.line(indent+1, "replaced_by:\n%s  %s: other", strings.Repeat("  ", indent+1), key)
		}
	}
}

func (g *gen) discovery(w *yw, name string) {
	w.line(0, "discovery:")
	if g.p(0.7) {
		w.line(1, "fields:")
		w.line(2, "- name: process.pid")
		if g.p(0.5) {
			w.line(2, "- name: host.name")
		}
	}
	if g.p(0.5) {
		w.line(1, "datasets: [{name: %s.errors}]", name)
	}
}

// value returns a YAML value of some type for a variable default.
func (g *gen) value() string {
	return pick(g, []string{
		"10s", `"10"`, "10", "1.5", "1.0", "yes", "true", "null", "[]", "{}", "0755", "1e3", "~",
		"[a, b]", "[1, 2.5, true]", "{host.name: x, b: {c: 1, a: 2}}", "'quoted: text'",
		"[{z: 1, a: 2}]", "-0", "0x10", "2024-01-02", "12345678901234567890", "", "[[]]",
		"[web, null]", "{<<: {a: 1, b: 1}, b: 2}", `"multi\nline \u00e9"`, "1_000", "0b101", "+12", "'0755'",
		"{a.b.c: 1, a: {d: 2}}", "[{}]", "{a: {}}", "-.5", "1.0e+3",
	})
}

func (g *gen) vars(w *yw, indent int, key string) {
	w.line(indent, "%s:", key)
	for i := range 1 + g.r.IntN(3) {
		w.line(indent+1, "- name: v%d", i)
		w.line(indent+2, "type: %s", pick(g, []string{"text", "bool", "integer", "password", "yaml", "select"}))
		if g.p(0.7) {
			w.line(indent+2, "title: %s", g.text("Var"))
		}
		if g.p(0.4) {
			w.line(indent+2, "description: %s", g.text("A variable"))
		}
		for _, k := range []string{"multi", "required", "show_user"} {
			if g.p(0.6) {
				w.line(indent+2, "%s: %s", k, g.boolean())
			}
		}
		if g.p(0.7) {
			w.line(indent+2, "default: %s", g.value())
		}
		if g.p(0.2) {
			w.line(indent+2, "secret: true")
		}
		if g.p(0.15) {
			g.deprecated(w, indent+2)
		}
		if g.p(0.1) {
			w.line(indent+2, "options:\n%s  - {value: a, text: A}", strings.Repeat("  ", indent+2))
		}
	}
}

func (g *gen) deploymentModes(w *yw, indent int) {
	w.line(indent, "deployment_modes:")
	if g.p(0.15) {
		w.line(indent+1, "%s: {}", pick(g, []string{"default", "agentless"}))
		return
	}
	if g.p(0.7) {
		w.line(indent+1, "default:")
		w.line(indent+2, "enabled: %s", g.boolean())
	}
	if g.p(0.7) {
		if g.p(0.3) {
			w.line(indent+1, "agentless.enabled: %s", g.boolean())
			return
		}
		w.line(indent+1, "agentless:")
		w.line(indent+2, "enabled: %s", g.boolean())
		if g.p(0.5) {
			w.line(indent+2, "is_default: %s", g.boolean())
		}
		if g.p(0.5) {
			w.line(indent+2, "release: %s", pick(g, []string{"ga", "beta", `""`}))
		}
		if g.p(0.5) {
			w.line(indent+2, "organization: elastic\n%sdivision: observability", strings.Repeat("  ", indent+2))
		}
		if g.p(0.3) {
			w.line(indent+2, "resources:\n%s  requests: {memory: 1G, cpu: \"0.5\"}", strings.Repeat("  ", indent+2))
		}
	}
}

func (g *gen) policyTemplates(w *yw, typ string, streams []string) {
	if !g.p(0.85) {
		return
	}
	w.line(0, "policy_templates:")
	for i := range 1 + g.r.IntN(2) {
		pt := fmt.Sprintf("pt%d", i)
		w.line(1, "- name: %s", pt)
		w.line(2, "title: %s", g.text("Template "+pt))
		w.line(2, "description: %s", g.text("Collect things"))
		if g.p(0.4) {
			g.files["docs/"+pt+".md"] = "# " + pt + "\n"
		}
		if g.p(0.1) {
			w.line(2, "readme: /docs/from-the-manifest.md")
		}
		if len(streams) > 0 && g.p(0.6) {
			g.list(w, 2, "data_streams", streams[:1+g.r.IntN(len(streams))])
		}
		if g.p(0.4) {
			w.line(2, "multiple: %s", g.boolean())
		}
		if g.p(0.5) {
			var cats []string
			for range 1 + g.r.IntN(2) {
				cats = append(cats, pick(g, Categories))
			}
			g.list(w, 2, "categories", cats)
		}
		g.images(w, 2, "icons", "img/"+pt+"-icon", "image/svg+xml")
		g.images(w, 2, "screenshots", "img/"+pt+"-shot", "image/png")
		switch {
		case g.p(0.1):
			w.line(2, "deployment_modes.agentless.enabled: %s", g.boolean())
		case g.p(0.4):
			g.deploymentModes(w, 2)
		}
		if g.p(0.2) {
			g.deprecated(w, 2)
		}
		if typ == "input" {
			w.line(2, "type: %s", pick(g, []string{"logs", "metrics"}))
			w.line(2, "input: %s", pick(g, Inputs))
			if g.p(0.7) {
				w.line(2, "template_path: input.yml.hbs")
			}
			if g.p(0.3) {
				w.line(2, "ingestion_method: Custom")
			}
			if g.p(0.5) {
				g.vars(w, 2, "vars")
			}
			continue
		}
		if g.p(0.05) {
			w.line(2, "inputs: {type: logfile}")
		} else if g.p(0.8) {
			w.line(2, "inputs:")
			for j := range 1 + g.r.IntN(2) {
				w.line(3, "- type: %s", pick(g, Inputs))
				if g.p(0.7) {
					w.line(4, "title: %s", g.text(fmt.Sprintf("Input %d", j)))
				}
				if g.p(0.5) {
					w.line(4, "description: %s", g.text("Collect"))
				}
				if g.p(0.2) {
					w.line(4, "package: other_input")
				}
				if g.p(0.3) {
					w.line(4, "input_group: %s", pick(g, []string{"logs", "metrics"}))
				}
				if g.p(0.2) {
					w.line(4, "template_path: input.yml.hbs")
				}
				if g.p(0.3) {
					w.line(4, "multi: %s", g.boolean())
				}
				if g.p(0.3) {
					g.list(w, 4, "deployment_modes", []string{pick(g, []string{"default", "agentless"})})
				}
				if g.p(0.2) {
					w.line(4, "hide_in_deployment_modes: [agentless]")
				}
				if g.p(0.3) {
					g.vars(w, 4, "vars")
				}
				if g.p(0.15) {
					g.deprecated(w, 4)
				}
				g.unknown(w, 4)
			}
		}
		g.unknown(w, 2)
	}
}

func (g *gen) dataStream(pkg, ds string) {
	w := &yw{}
	w.line(0, "title: %s", g.text("Data stream "+ds))
	w.line(0, "type: %s", pick(g, []string{"logs", "metrics", "traces", "synthetics"}))
	if g.p(0.3) {
		w.line(0, "dataset: %s.custom_%s", pkg, ds)
	}
	if g.p(0.2) {
		w.line(0, "hidden: %s", g.boolean())
	}
	if g.p(0.2) {
		w.line(0, "ilm_policy: logs-%s.%s-default_policy", pkg, ds)
	}
	if g.p(0.2) {
		w.line(0, "dataset_is_prefix: %s", g.boolean())
	}
	if g.p(0.3) {
		w.line(0, "release: %s", pick(g, []string{"ga", "beta", "experimental"}))
	}
	pipe := g.r.IntN(4) // 0 none, 1 default.yml, 2 default.json, 3 named
	switch pipe {
	case 1:
		g.files["data_stream/"+ds+"/elasticsearch/ingest_pipeline/default.yml"] = "processors: []\n"
	case 2:
		g.files["data_stream/"+ds+"/elasticsearch/ingest_pipeline/default.json"] = "{\"processors\": []}\n"
	case 3:
		g.files["data_stream/"+ds+"/elasticsearch/ingest_pipeline/custom.yml"] = "processors: []\n"
		// EPR only loads a custom pipeline named by ingest_pipeline.
		w.line(0, "ingest_pipeline: custom")
		if g.p(0.5) {
			w.line(0, "elasticsearch.ingest_pipeline.name: custom")
		}
	}
	if g.p(0.6) {
		g.esBlock(w)
	}
	if g.p(0.2) {
		w.line(0, "agent:\n  privileges:\n    root: %s", g.boolean())
	}
	if g.p(0.2) {
		g.deprecated(w, 0)
	}
	if g.p(0.05) {
		w.line(0, "package: from_manifest\npath: from_manifest")
	}
	if g.p(0.9) {
		w.line(0, "streams:")
		for i := range 1 + g.r.IntN(2) {
			w.line(1, "- input: %s", pick(g, Inputs))
			if g.p(0.6) {
				w.line(2, "title: %s", g.text(fmt.Sprintf("Stream %d", i)))
			}
			if g.p(0.5) {
				w.line(2, "description: %s", g.text("Collect"))
			}
			if g.p(0.3) {
				w.line(2, "template_path: %s", pick(g, []string{"log.yml.hbs", "stream.yml.hbs"}))
			}
			if g.p(0.3) {
				w.line(2, "enabled: %s", g.boolean())
			}
			if g.p(0.2) {
				w.line(2, "ingestion_method: Custom")
			}
			if g.p(0.1) {
				w.line(2, "package: other")
			}
			if g.p(0.5) {
				g.vars(w, 2, "vars")
			}
			g.unknown(w, 2)
		}
	}
	g.unknown(w, 0)
	g.files["data_stream/"+ds+"/manifest.yml"] = w.b.String()
	g.files["data_stream/"+ds+"/fields/base-fields.yml"] = "- name: '@timestamp'\n  type: date\n"
}

// esBlock writes a data stream's elasticsearch block, nested, dotted or
// mixed, with keys EPR drops.
func (g *gen) esBlock(w *yw) {
	mappings := pick(g, []string{"{dynamic: false}", "{subobjects: false, properties: {host.name: {type: keyword}}}", "{}", "null"})
	settings := pick(g, []string{"{index: {lifecycle: {name: x}}}", "{index.mapping.total_fields.limit: 5000}", "{number_of_shards: 1}"})
	// key writes one more key of the block: under "elasticsearch:" when
	// the block is nested, as a dotted top-level key when it is not.
	dotted := g.p(0.35)
	if !dotted {
		w.line(0, "elasticsearch:")
	}
	key := func(k, v string) {
		if dotted {
			w.line(0, "elasticsearch.%s: %s", k, v)
		} else {
			w.line(1, "%s: %s", k, v)
		}
	}
	switch {
	case dotted || g.p(0.5):
		key("index_template.mappings", mappings)
		if g.p(0.5) {
			key("index_template.settings", settings)
		}
	default:
		w.line(1, "index_template:")
		if g.p(0.7) {
			w.line(2, "mappings: %s", mappings)
		}
		if g.p(0.5) {
			w.line(2, "settings: %s", settings)
		}
		if g.p(0.3) {
			w.line(2, "ingest_pipeline.name: should_not_leak")
		}
	}
	if g.p(0.4) {
		key("privileges.indices", "[auto_configure, create_doc]")
	}
	if g.p(0.3) {
		key("source_mode", "synthetic")
	}
	if g.p(0.3) {
		key("dynamic_dataset", "true")
	}
}
