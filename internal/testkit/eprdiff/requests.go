package eprdiff

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// The request lists below are built from a corpus's revisions, so that one
// list fits any corpus (EPR's test packages, the v1 sample, generated
// packages). Each builder returns requests in a stable order.

// Get returns GET requests for targets.
func Get(targets ...string) []Request {
	out := make([]Request, len(targets))
	for i, t := range targets {
		out[i] = Request{Target: t}
	}
	return out
}

// Heads returns the HEAD twin of every request.
func Heads(reqs []Request) []Request { return WithMethod(reqs, http.MethodHead) }

// WithMethod returns reqs sent with method (EPR's routes take any method).
func WithMethod(reqs []Request, method string) []Request {
	out := make([]Request, len(reqs))
	for i, r := range reqs {
		out[i] = Request{Method: method, Target: r.Target}
	}
	return out
}

// Root is /, /index.json, /health and /favicon.ico. / and /health are
// deterministic in EPR (service name and version, "{}"-like health).
func Root() []Request {
	return Get("/", "/index.json", "/health", "/health?ready=true", "/favicon.ico")
}

// names returns the distinct package names of pkgs, sorted.
func names(pkgs []Package) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range pkgs {
		if !seen[p.ID.Name] {
			seen[p.ID.Name] = true
			out = append(out, p.ID.Name)
		}
	}
	sort.Strings(out)
	return out
}

// Fleet's query dimensions. Values cover before, inside and after the
// ranges real manifests declare, plus Fleet's own forms.
var (
	KibanaVersions = []string{"", "7.14.0", "7.17.0", "8.0.0", "8.12.2", "9.1.0"}
	Prereleases    = []string{"", "true", "false"}
	Capabilities   = []string{"", "observability,security", "security", "apm,observability,security,uptime"}
	SpecRanges     = []string{"", "spec.min=1.0&spec.max=3.0", "spec.max=2.10", "spec.min=3.0&spec.max=3.5"}
	AgentVersions  = []string{"", "8.15.0", "9.5.0"}
	// Categories are queried with and without a known category list.
	Categories = []string{"security", "observability", "web", "datastore", "network", "custom", "cloud", "aws", "monitoring", "kubernetes", "nonexistent"}
	Types      = []string{"integration", "input", "content", "unknown"}
	Discovery  = []string{"fields:process.pid", "fields:non.existing.field", "datasets:good_content.errors", "fields:event.dataset", "datasets:nginx.access"}
)

func query(parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p != "" && !strings.HasSuffix(p, "=") {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, "&")
}

func withQuery(path, q string) string {
	if q == "" {
		return path
	}
	return path + "?" + q
}

// SearchMatrix is Fleet's /search query matrix: kibana.version ×
// prerelease × capabilities × spec.min/spec.max × agent.version, then
// category, type, package, all, discovery, internal, experimental and
// unknown parameters, over the names of pkgs.
func SearchMatrix(pkgs []Package) []Request {
	var out []Request
	for _, kv := range KibanaVersions {
		for _, pr := range Prereleases {
			for _, c := range Capabilities {
				for _, s := range SpecRanges {
					for _, av := range AgentVersions {
						out = append(out, Request{Target: withQuery("/search", query(
							"kibana.version="+kv, "prerelease="+pr, "capabilities="+c, s, "agent.version="+av))})
					}
				}
			}
		}
	}
	for _, c := range Categories {
		for _, extra := range []string{"", "prerelease=true", "all=true", "kibana.version=8.12.2&prerelease=true"} {
			out = append(out, Request{Target: withQuery("/search", query("category="+c, extra))})
		}
	}
	for _, t := range Types {
		for _, extra := range []string{"", "prerelease=true", "all=true&prerelease=true"} {
			out = append(out, Request{Target: withQuery("/search", query("type="+t, extra))})
		}
	}
	for _, n := range names(pkgs) {
		for _, extra := range []string{"", "prerelease=true", "all=true", "all=true&prerelease=true", "kibana.version=8.12.2&prerelease=true", "experimental=true"} {
			out = append(out, Request{Target: withQuery("/search", query("package="+url.QueryEscape(n), extra))})
		}
	}
	for _, d := range Discovery {
		out = append(out, Request{Target: "/search?prerelease=true&discovery=" + d})
	}
	out = append(out, Get(
		"/search",
		"/search?all=true",
		"/search?all=true&prerelease=true",
		"/search?internal=true",
		"/search?internal=true&prerelease=true",
		"/search?experimental=true",
		"/search?experimental=true&kibana.version=8.0.0",
		"/search?experimental=false",
		"/search?unknown=true",
		"/search?prerelease=true&unknown=1",
		"/search?prerelease=true&discovery=datasets:good_content.errors&discovery=fields:process.pid",
		"/search?prerelease=true&discovery=datasets:good_content.errors&discovery=fields:process.path",
		"/search?package=example&type=integration&prerelease=true",
		"/search?category=web&type=integration&prerelease=true",
		"/search?kibana.version=8.12.2&prerelease=true&capabilities=observability,security&spec.min=1.0&spec.max=3.3&category=security",
		"/search?prerelease=true&kibana.version=8.12.2&",
		"/search?prerelease=TRUE",
		"/search?prerelease=1",
		"/search?all=1",
		"/search?capabilities=",
		"/search?kibana.version=",
		"/search?package=",
		"/search?category=",
		// Only the first value of a repeated parameter counts.
		"/search?package=example&package=foo",
		"/search?prerelease=true&prerelease=notabool",
		"/search?kibana.version=8.12.2&kibana.version=7.0.0&prerelease=true",
	)...)
	return out
}

// FleetQueries is a short list of what Fleet itself asks (its defaults
// per Kibana version, with and without capabilities, every package's
// versions), for comparisons whose point is the index rather than the
// query semantics SearchMatrix covers.
func FleetQueries(pkgs []Package) []Request {
	var out []Request
	for _, kv := range []string{"7.17.0", "8.12.2", "9.1.0"} {
		out = append(out, Get(
			"/search?prerelease=true&kibana.version="+kv,
			"/search?prerelease=false&kibana.version="+kv,
			"/search?prerelease=true&kibana.version="+kv+"&capabilities=observability,security",
			"/categories?prerelease=true&include_policy_templates=true&kibana.version="+kv,
		)...)
	}
	out = append(out, Get("/search", "/search?all=true&prerelease=true", "/search?experimental=true", "/categories", "/categories?prerelease=true")...)
	for _, n := range names(pkgs) {
		out = append(out, Request{Target: "/search?all=true&prerelease=true&package=" + url.QueryEscape(n)})
	}
	return out
}

// GetOrHead keeps the requests sent with GET or HEAD. The reference's
// storage indexer forwards any other method to the storage backend for
// artifacts and static files, so their answer is the backend's (fake-gcs-
// server: 400 for POST, an empty 200 for OPTIONS), not the API's.
func GetOrHead(reqs []Request) []Request {
	var out []Request
	for _, r := range reqs {
		if r.Method == "" || r.Method == http.MethodGet || r.Method == http.MethodHead {
			out = append(out, r)
		}
	}
	return out
}

// CategoriesMatrix is /categories with Fleet's parameters.
func CategoriesMatrix() []Request {
	var out []Request
	for _, kv := range KibanaVersions {
		for _, pr := range []string{"", "prerelease=true", "experimental=true"} {
			for _, ipt := range []string{"", "include_policy_templates=true", "include_policy_templates=false"} {
				out = append(out, Request{Target: withQuery("/categories", query("kibana.version="+kv, pr, ipt))})
			}
		}
	}
	for _, c := range Capabilities[1:] {
		out = append(out, Request{Target: "/categories?prerelease=true&capabilities=" + c})
	}
	for _, s := range SpecRanges[1:] {
		out = append(out, Request{Target: "/categories?prerelease=true&" + s})
	}
	out = append(out, Get(
		"/categories?agent.version=8.15.0&prerelease=true",
		"/categories?unknown=true",
		"/categories?package=example&prerelease=true",
		"/categories?all=true",
		"/categories?internal=true",
		"/categories?prerelease=true&include_policy_templates=true&kibana.version=8.12.2&capabilities=observability&spec.min=1.0&spec.max=3.0",
	)...)
	return out
}

// Documents is /package/N/V/ of every revision.
func Documents(pkgs []Package) []Request {
	out := make([]Request, len(pkgs))
	for i, p := range pkgs {
		out[i] = Request{Target: "/package/" + p.ID.Name + "/" + p.ID.Version + "/"}
	}
	return out
}

// escapePath escapes each segment of a slash-separated path as Fleet's
// browser does: spaces and reserved characters percent-encoded.
func escapePath(p string) string {
	return (&url.URL{Path: p}).EscapedPath()
}

// Assets is every static file of every revision, /package/N/V/<path>,
// escaped as a browser would; names with brackets are also sent with the
// brackets percent-encoded.
func Assets(pkgs []Package) []Request {
	var out []Request
	for _, p := range pkgs {
		base := "/package/" + p.ID.Name + "/" + p.ID.Version + "/"
		for _, f := range p.Files {
			t := base + escapePath(f)
			out = append(out, Request{Target: t})
			if strings.ContainsAny(f, "[]") {
				r := strings.NewReplacer("[", "%5B", "]", "%5D")
				out = append(out, Request{Target: base + r.Replace(escapePath(f))})
			}
		}
	}
	return out
}

// Artifacts is the zip and its signature of every revision, under
// /epr/N/ and (EPR ignores the first segment) under another name.
func Artifacts(pkgs []Package) []Request {
	var out []Request
	for i, p := range pkgs {
		z := "/epr/" + p.ID.Name + "/" + p.ID.ZipName()
		out = append(out, Request{Target: z}, Request{Target: z + ".sig"})
		if i == 0 {
			out = append(out, Request{Target: "/epr/other/" + p.ID.ZipName()})
		}
	}
	return out
}

// Redirects are unclean paths and strict-slash forms.
func Redirects(pkgs []Package) []Request {
	if len(pkgs) == 0 {
		return nil
	}
	p := pkgs[0]
	n, v := p.ID.Name, p.ID.Version
	out := Get(
		"/package/"+n+"/"+v,
		"/package/"+n+"/"+v+"//",
		"/package/"+n+"//"+v+"/",
		"/package/"+n+"/./"+v+"/",
		"/package/"+n+"/../"+n+"/"+v+"/",
		"/search/",
		"/categories/",
		"/health/",
		"/index.json/",
		"/./search?package="+n,
		"/search/../categories",
		"/epr/"+n+"/"+p.ID.ZipName()+"/",
		"/epr//"+n+"/"+p.ID.ZipName(),
		"/package/"+n+"/"+v+"/./manifest.yml",
		"/package/"+n+"/"+v+"/docs/../manifest.yml",
		"/package/",
		"/package/"+n+"/",
		"/package/"+n,
		"/epr/",
		"/package/Bad-Name/1.0.0/",
		"/package/Bad-Name/1.0.0",
		"/package/Bad-Name/1.0.0/manifest.yml",
		"/epr/"+n+"/Bad-1.0.0.zip",
		"/epr/"+n+"/"+p.ID.ZipName()+".sig/",
		"/search/?package="+n,
		"/favicon.ico/",
		"/package/"+n+"/"+v+"/docs/README.md/",
		"/package/"+n+"/"+v+"/%2e%2e/manifest.yml",
		"/package/"+n+"/"+v+"/docs%2FREADME.md",
	)
	if len(p.Files) > 0 {
		f := p.Files[len(p.Files)-1]
		if i := strings.LastIndex(f, "/"); i > 0 {
			out = append(out, Request{Target: "/package/" + n + "/" + v + "/" + escapePath(f[:i]) + "//" + escapePath(f[i+1:])})
			out = append(out, Request{Target: "/package/" + n + "/" + v + "/" + escapePath(f[:i]) + "/"})
		}
	}
	return out
}

// Queries is every /search and /categories request: what a strict
// registry (-allow-unknown-query-parameters=false) must also answer alike.
// No request holds two unknown parameters: EPR reports whichever its map
// iteration meets first.
func Queries(pkgs []Package) []Request {
	var out []Request
	out = append(out, SearchMatrix(pkgs)...)
	out = append(out, CategoriesMatrix()...)
	for _, r := range Errors(pkgs) {
		if strings.HasPrefix(r.Target, "/search") || strings.HasPrefix(r.Target, "/categories") {
			out = append(out, r)
		}
	}
	return out
}

// Errors are requests both must refuse alike: bad versions, unknown
// packages and files, bad parameter values, unknown routes. Not sent: a
// query with several bad parameters (EPR reports whichever its map
// iteration meets first, which is random).
func Errors(pkgs []Package) []Request {
	n, v := "example", "1.0.0"
	if len(pkgs) > 0 {
		n, v = pkgs[0].ID.Name, pkgs[0].ID.Version
	}
	return Get(
		"/package/"+n+"/notaversion/",
		"/package/"+n+"/1.0/",
		"/package/"+n+"/01.0.0/",
		"/package/"+n+"/999.0.0/",
		"/package/"+n+"/"+v+"-rc1/",
		"/package/unknownpackage/1.0.0/",
		"/package/"+n+"/"+v+"/nonexistent.md",
		"/package/"+n+"/"+v+"/manifest.yml/x",
		"/package/"+n+"/"+v+"/docs/",
		"/package/"+n+"/999.0.0/manifest.yml",
		"/package/unknownpackage/1.0.0/manifest.yml",
		"/epr/"+n+"/"+n+"-999.0.0.zip",
		"/epr/"+n+"/"+n+"-999.0.0.zip.sig",
		"/epr/"+n+"/"+n+"-"+v+".zip.asc",
		"/epr/"+n+"/"+n+"-notaversion.zip",
		"/epr/"+n+"/"+n+".zip",
		"/epr/"+n,
		"/nonexistent",
		"/search?kibana.version=notaversion",
		"/search?kibana.version=8",
		"/search?kibana.version=8.1",
		"/search?prerelease=notabool",
		"/search?all=maybe",
		"/search?experimental=maybe",
		"/search?internal=maybe",
		"/search?spec.min=x",
		"/search?spec.max=3.0.0",
		"/search?spec.min=1",
		"/search?agent.version=bad",
		"/search?discovery=bad",
		"/search?discovery=fields:",
		"/search?discovery=unknown:x",
		"/search?type=unknown&prerelease=true",
		"/categories?kibana.version=notaversion",
		"/categories?prerelease=notabool",
		"/categories?include_policy_templates=maybe",
		"/categories?experimental=maybe",
		"/categories?spec.min=x",
	)
}

// All is every list for pkgs, with HEAD, POST and OPTIONS on one request
// of each kind.
func All(pkgs []Package) []Request {
	var out []Request
	out = append(out, Root()...)
	out = append(out, SearchMatrix(pkgs)...)
	out = append(out, CategoriesMatrix()...)
	out = append(out, Documents(pkgs)...)
	out = append(out, Assets(pkgs)...)
	out = append(out, Artifacts(pkgs)...)
	out = append(out, Redirects(pkgs)...)
	out = append(out, Errors(pkgs)...)
	sample := Sample(pkgs)
	out = append(out, Heads(sample)...)
	out = append(out, WithMethod(sample, http.MethodPost)...)
	out = append(out, WithMethod(sample, http.MethodOptions)...)
	return out
}

// HeadSample is HEAD on one request of each kind.
func HeadSample(pkgs []Package) []Request { return Heads(Sample(pkgs)) }

// Sample is one GET request of each kind.
func Sample(pkgs []Package) []Request {
	reqs := append(Root(), Get("/search", "/search?package=nonexistent", "/categories", "/nonexistent", "/search?prerelease=notabool")...)
	if len(pkgs) > 0 {
		reqs = append(reqs, Documents(pkgs[:1])...)
		reqs = append(reqs, Artifacts(pkgs[:1])...)
		a := Assets(pkgs[:1])
		if len(a) > 3 {
			a = a[:3]
		}
		reqs = append(reqs, a...)
		reqs = append(reqs, Redirects(pkgs[:1])[:1]...)
		reqs = append(reqs, Errors(pkgs[:1])[:3]...)
	}
	return reqs
}
