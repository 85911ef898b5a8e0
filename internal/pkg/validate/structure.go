package validate

import (
	"regexp"
	"strings"
	"sync"
)

// contentType says how a file is parsed and whether it must be non-empty.
type contentType int

const (
	ctNone contentType = iota
	ctYAML
	ctJSON
	ctMarkdown
	ctText
	ctHBS
)

// item describes one entry of a folder specification: a file or folder,
// matched by exact name or by pattern.
type item struct {
	name       string
	pattern    string // regexp; {PACKAGE_NAME} is replaced by the package name
	forbidden  []string
	dir        bool
	required   bool
	since      string // item exists when format_version >= since
	until      string // item exists when format_version < until
	contents   []*item
	additional bool // additionalContents: unknown entries accepted as-is
	schema     string
	ct         contentType
	dashes     bool // YAML must start with a "---" line
	allowLink  bool
	sizeLimit  int64
	dev        bool   // source-only development folder
	limit      int    // totalContentsLimit override for this folder
	betaBefore string // folder is beta (PSR00002 / GA refusal) below this version
}

const (
	kb = int64(1024)
	mb = 1024 * kb
)

func f(name string) *item { return &item{name: name} }
func fp(re string) *item  { return &item{pattern: re} }
func d(name string, c ...*item) *item {
	return &item{name: name, dir: true, contents: c}
}
func dp(re string, c ...*item) *item {
	return &item{pattern: re, dir: true, contents: c}
}

func (i *item) req() *item                { i.required = true; return i }
func (i *item) yaml(schema string) *item  { i.ct = ctYAML; i.schema = schema; return i }
func (i *item) json(schema string) *item  { i.ct = ctJSON; i.schema = schema; return i }
func (i *item) md() *item                 { i.ct = ctMarkdown; return i }
func (i *item) text() *item               { i.ct = ctText; return i }
func (i *item) hbs() *item                { i.ct = ctHBS; return i }
func (i *item) dash() *item               { i.dashes = true; return i }
func (i *item) link() *item               { i.allowLink = true; return i }
func (i *item) size(n int64) *item        { i.sizeLimit = n; return i }
func (i *item) add() *item                { i.additional = true; return i }
func (i *item) devOnly() *item            { i.dev = true; return i }
func (i *item) from(v string) *item       { i.since = v; return i }
func (i *item) before(v string) *item     { i.until = v; return i }
func (i *item) forbid(re ...string) *item { i.forbidden = append(i.forbidden, re...); return i }
func (i *item) max(n int) *item           { i.limit = n; return i }
func (i *item) beta(before string) *item  { i.betaBefore = before; return i }

func (i *item) kind() string {
	if i.dir {
		return "folder"
	}
	return "file"
}

var (
	reCache   sync.Map // string -> *regexp.Regexp
	ecsSuffix = `^.+-(ecs|ECS)\.json$`
)

func compileRe(p string) *regexp.Regexp {
	if r, ok := reCache.Load(p); ok {
		return r.(*regexp.Regexp)
	}
	r, err := regexp.Compile(p)
	if err != nil {
		r = regexp.MustCompile(`\A\z.`) // matches nothing
	}
	reCache.Store(p, r)
	return r
}

func (i *item) matches(name, pkgName string) bool {
	if i.name != "" {
		return i.name == name
	}
	if !compileRe(strings.ReplaceAll(i.pattern, "{PACKAGE_NAME}", pkgName)).MatchString(name) {
		return false
	}
	for _, fb := range i.forbidden {
		if compileRe(fb).MatchString(name) {
			return false
		}
	}
	return true
}

// Folder specifications, built once.
var (
	specOnce                                sync.Once
	integrationSpec, inputSpec, contentSpec *item
)

func rootSpec(typ string) *item {
	specOnce.Do(buildSpecs)
	switch typ {
	case "integration":
		return integrationSpec
	case "input":
		return inputSpec
	case "content":
		return contentSpec
	}
	return nil
}

func kibanaNamed(dir string, ecsForbidden bool) *item {
	it := fp(`^{PACKAGE_NAME}-.+\.json$`).json("").link()
	if ecsForbidden {
		it.forbid(ecsSuffix)
	}
	return d(dir, it)
}

func kibanaAny(dir string) *item { return d(dir, fp(`\.json$`).json("")) }

func docsSpec() *item {
	return d("docs",
		f("README.md").req().md(),
		d("knowledge_base", fp(`\.md$`).md()),
		fp(`^.+\.md`).md(),
	).req()
}

func esqlView() *item {
	return d("esql_view", fp(`\.ya?ml$`).yaml("esql_view")).from("3.6.0")
}

func devDeploy() *item {
	return d("deploy",
		d("docker", f("docker-compose.yml").req().yaml("")).add(),
		d("tf", fp(`\.tf$`).req()).add(),
		d("agent", f("custom-agent.yml").req().yaml("custom_agent")).add(),
		d("k8s", fp(`(\.yaml$|^\.empty$)`).req()).add(),
		f("variants.yml").yaml("variants"),
	)
}

func devBuild() *item {
	return d("build",
		f("build.yml").yaml("build"),
		d("docs", f("README.md").md(), fp(`\.md$`).md()),
	)
}

func buildSpecs() {
	integrationSpec = d("",
		f("manifest.yml").req().yaml("integration_manifest").size(5*mb),
		f("changelog.yml").req().yaml("changelog"),
		docsSpec(),
		f("NOTICE.txt").text(),
		f("LICENSE.txt").text(),
		d("data_stream",
			dp(`^([a-z0-9]{2}|[a-z0-9][a-z0-9_]+[a-z0-9])$`, dataStreamSpec()...).req().forbid(`^integration$`),
		).max(500),
		d("agent", d("input", fp(`\.yml\.hbs$`).req().hbs().link().size(2*mb)).req()),
		d("kibana",
			kibanaNamed("dashboard", true),
			kibanaNamed("visualization", true),
			kibanaNamed("search", true),
			kibanaNamed("map", true),
			kibanaNamed("lens", true),
			kibanaNamed("tag", false),
			kibanaNamed("osquery_pack_asset", false),
			kibanaNamed("osquery_saved_query", false),
			kibanaNamed("ml_module", false),
			kibanaAny("index_pattern"),
			kibanaAny("security_rule"),
			kibanaAny("csp_rule_template"),
			kibanaAny("alerting_rule_template").from("3.4.0"),
			kibanaAny("slo_template").from("3.4.0"),
			f("tags.yml").yaml("tags").from("2.10.0"),
		),
		d("elasticsearch",
			d("ml_model", fp(`^{PACKAGE_NAME}_.+\.json$`).json("")),
			d("ingest_pipeline",
				fp(`\.yml$`).yaml("ingest_pipeline").dash().link().size(3*mb),
				fp(`\.json$`).json("ingest_pipeline").link().size(3*mb),
			).add(),
			d("transform", dp(`^[a-z0-9_]+$`,
				f("transform.yml").req().yaml("transform"),
				f("manifest.yml").yaml("transform_manifest").size(5*mb),
				d("fields", fp(`^[a-z0-9][a-z0-9_-]+[a-z0-9]\.yml$`).req().yaml("fields").link()),
			)),
			esqlView(),
		),
		d("_dev",
			d("benchmark", d("system", fp(`\.yml$`).yaml("benchmark_system")).add()).add(),
			devBuild(),
			devDeploy(),
			d("test", f("config.yml").yaml("test_config")).add(),
			d("shared").add(),
			d("scripts").add(),
		).devOnly(),
		f("validation.yml").yaml("validation"),
		d("img").add().from("3.2.2"),
	).add()

	inputSpec = d("",
		f("manifest.yml").req().yaml("input_manifest").size(5*mb),
		f("changelog.yml").req().yaml("changelog"),
		docsSpec(),
		f("LICENSE.txt").text(),
		d("agent", d("input", fp(`\.yml\.hbs$`).req().hbs().link().size(2*mb)).req()).req(),
		d("fields", fp(`^[a-z0-9][a-z0-9_-]+[a-z0-9]\.yml$`).req().yaml("fields").link()).from("3.5.0"),
		d("fields", fp(`^[a-z0-9][a-z0-9_-]+[a-z0-9]\.yml$`).req().yaml("fields").link()).req().before("3.5.0"),
		f("sample_event.json").json(""),
		fp(`^sample_event_[a-z0-9]+\.json$`).json(""),
		d("_dev",
			devBuild(),
			devDeploy(),
			d("test",
				f("config.yml").yaml("test_config"),
				d("policy", fp(`\.yml$`).yaml("test_policy")).add(),
				d("system", fp(`config\.yml$`).yaml("test_system")).add(),
			).add(),
			d("shared").add(),
			d("scripts").add(),
			d("benchmark").add(),
		).devOnly(),
		f("lifecycle.yml").yaml("lifecycle").from("2.10.0"),
		f("validation.yml").yaml("validation"),
		d("img").add().from("3.2.2"),
	).add()

	contentSpec = d("",
		f("manifest.yml").req().yaml("content_manifest").size(5*mb),
		f("changelog.yml").req().yaml("changelog"),
		docsSpec(),
		f("LICENSE.txt").text(),
		d("img").add(),
		d("kibana",
			kibanaNamed("dashboard", true),
			kibanaNamed("search", true),
			kibanaNamed("ml_module", false),
			kibanaNamed("security_ai_prompt", false).from("3.4.0"),
			kibanaAny("security_rule"),
			kibanaAny("alerting_rule_template").from("3.5.0"),
			kibanaAny("slo_template").from("3.5.0"),
			f("tags.yml").yaml("tags"),
		),
		f("validation.yml").yaml("validation"),
		d("elasticsearch", esqlView()).from("3.6.0"),
		d("_dev", devBuild(), d("shared").add(), d("scripts").add()).devOnly(),
	).beta("3.4.0")
}

func dataStreamSpec() []*item {
	return []*item{
		f("manifest.yml").req().yaml("data_stream_manifest").size(5 * mb),
		d("fields", fp(`^[a-z0-9][a-z0-9_-]+[a-z0-9]\.yml$`).req().yaml("fields").link()).req(),
		d("agent", d("stream", fp(`\.yml\.hbs$`).req().hbs().link().size(2*mb)).req()),
		d("elasticsearch",
			d("ilm", fp(`\.yml$`).yaml("").dash(), fp(`\.json$`).json("")),
			d("ingest_pipeline",
				fp(`\.yml$`).yaml("ingest_pipeline").dash().link(),
				fp(`\.json$`).json("ingest_pipeline").link(),
			),
		),
		f("sample_event.json").json(""),
		fp(`^sample_event_[a-z0-9]+\.json$`).json(""),
		d("test"),
		d("_dev",
			d("test",
				d("system", fp(`config\.yml$`).yaml("test_system")).add(),
				d("policy").add(),
				d("pipeline").add(),
				d("static").add(),
				d("scripts").add(),
			).add(),
			devDeploy(),
			d("benchmark").add(),
		).devOnly(),
		f("routing_rules.yml").yaml("routing_rules").from("2.9.0"),
		f("lifecycle.yml").yaml("lifecycle").from("2.10.0"),
	}
}
