package eprdiff

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"pkgstore/internal/builder"
)

// Shapes of real EPR deployments added to GenerateDeployment after its
// first ones (issue 22: "tried with real EPR configurations you do not
// have"). They draw from the deployment's second random stream.

// morePackages adds package shapes: a dangling link named .zip, a zip
// reached through a link (its signature a link or a file), a version
// folder with build metadata (NAME/1.0.0+build.7/), two variants of one
// NAME-VERSION with different titles (zips in two paths or in one, or a
// zip and a folder: which copy wins shows in every answer), a folder
// in a signature's place, and a folder package holding a link to one of
// its files or a dangling link.
func morePackages(d *Deployment, r *rand.Rand, chance func(float64) bool, usePkg func(string), dirs []string) {
	say := func(format string, a ...any) { d.What = append(d.What, fmt.Sprintf(format, a...)) }
	add := func(f ...DeployFile) { d.Files = append(d.Files, f...) }
	source := func() (src, name, version string) {
		src = deployPool[r.IntN(len(deployPool))]
		name, version, _ = strings.Cut(src, "/")
		usePkg(src)
		return src, name, version
	}
	dir := func() string { return dirs[r.IntN(len(dirs))] }
	if chance(0.12) {
		p := dir()
		add(DeployFile{Path: p + "/ghost-1.0.0.zip", Link: "../nowhere/ghost-1.0.0.zip"})
		say("%s: ghost-1.0.0.zip, a dangling link", p)
	}
	if chance(0.12) {
		src, name, version := source()
		real := "elsewhere/" + name + "-" + version + ".zip"
		f := dir() + "/linked/" + name + "-" + version + ".zip"
		add(DeployFile{Path: real, Zip: src}, DeployFile{Path: real + ".sig", Data: deploySig}, DeployFile{Path: f, Link: up(f) + real})
		if chance(0.5) {
			add(DeployFile{Path: f + ".sig", Link: up(f) + real + ".sig"})
		} else {
			add(DeployFile{Path: f + ".sig", Data: deploySig})
		}
		say("%s: a link to a zip outside the package paths", f)
	}
	if chance(0.12) {
		src, name, version := source()
		if !strings.Contains(version, "+") {
			f := dir() + "/" + name + "/" + version + "+build.7"
			add(DeployFile{Path: f, Copy: src}, DeployFile{Path: f + ".sig", Data: deploySig})
			say("%s: a version folder with build metadata", f)
		}
	}
	if chance(0.3) {
		src, name, version := source()
		a, b := dir(), dir()
		za := a + "/va/" + name + "-" + version + ".zip"
		add(DeployFile{Path: za, Zip: src, Title: "Variant A"}, DeployFile{Path: za + ".sig", Data: deploySig})
		fb := b + "/" + src
		if chance(0.5) || taken(d, fb) {
			fb = b + "/vb/" + name + "-" + version + ".zip"
			add(DeployFile{Path: fb, Zip: src, Title: "Variant B"})
		} else {
			add(DeployFile{Path: fb, Copy: src, Title: "Variant B"})
		}
		add(DeployFile{Path: fb + ".sig", Data: deploySig})
		d.Variants = append(d.Variants, name+"-"+version)
		say("%s as two variants: %s (A), %s (B)", src, za, fb)
	}
	if chance(0.05) {
		src, name, version := source()
		f := dir() + "/sigdir/" + name + "-" + version + ".zip"
		add(DeployFile{Path: f, Zip: src}, DeployFile{Path: f + ".sig/note.txt", Data: []byte("not a signature\n")})
		say("%s: a folder in the signature's place", f)
	}
	if chance(0.1) {
		src, name, version := source()
		if f := dir() + "/" + name + "/" + version; !taken(d, f) {
			add(DeployFile{Path: f, Copy: src}, DeployFile{Path: f + ".sig", Data: deploySig})
			if chance(0.7) {
				add(DeployFile{Path: f + "/docs/LINK.md", Link: "README.md"})
				say("%s: a folder package with a link to its README", f)
			} else {
				add(DeployFile{Path: f + "/docs/GONE.md", Link: "nowhere.md"})
				say("%s: a folder package with a dangling link", f)
			}
		}
	}
}

// taken reports whether a file of d is at p or below it.
func taken(d *Deployment, p string) bool {
	for _, f := range d.Files {
		if f.Path == p || strings.HasPrefix(f.Path, p+"/") {
			return true
		}
	}
	return false
}

// up is the relative path from the folder of p (below the root) back to
// the root.
func up(p string) string { return strings.Repeat("../", strings.Count(p, "/")) }

// reshapeConfig rewrites a generated config.yml in ways EPR reads (YAML
// 1.1 through go-ucfg and yaml.v2): anchors and aliases, a merge key
// after explicit keys, octal, hex and other integer spellings, a null
// that brings a default back, a tab after the colon, document markers
// and a second document, a byte order mark, CRLF line endings. Later
// keys repeat earlier ones on purpose: the later wins.
func reshapeConfig(d *Deployment, config string, chance func(float64) bool, pick func(...string) string) string {
	say := func(format string, a ...any) { d.What = append(d.What, fmt.Sprintf(format, a...)) }
	key := func() string { return "cache_time." + pick("index", "search", "categories", "catch_all") }
	if chance(0.15) {
		config += "cache_time.search: &ct " + pick("45s", "2m", "90") + "\ncache_time.categories: *ct\n"
		say("an anchor and an alias")
	}
	if chance(0.12) {
		config += "x-defaults: &defaults\n  cache_time.catch_all: 2m\n  cache_time.index: 20s\n<<: *defaults\n"
		say("a merge key")
	}
	if chance(0.15) {
		config += key() + ": " + pick("017", "0x1e", "1_200", "1e1", "!!float 12", "0o20", "+30", "30.5", "0b101") + "\n"
		say("a YAML 1.1 number")
	}
	if chance(0.08) {
		config += key() + ":" + pick(" ~", " null", "") + "\n"
		say("a null cache time")
	}
	if chance(0.06) {
		config += key() + ":\t5m\n"
		say("a tab after a colon")
	}
	if chance(0.1) {
		config = "---\n" + config
		say("a document start marker")
	}
	if chance(0.08) {
		config += "---\ncache_time.search: 1s\n"
		say("a second document")
	}
	if chance(0.08) {
		config = "\ufeff" + config
		say("a byte order mark")
	}
	if chance(0.1) {
		config = strings.ReplaceAll(config, "\n", "\r\n")
		say("CRLF line endings")
	}
	return config
}

// oddEnvironment adds EPR_* values deployments carry by accident: empty
// values (a Helm value left blank), variables that are no flag, a worker
// count of 0 (refused).
func oddEnvironment(d *Deployment, chance func(float64) bool, pick func(...string) string) {
	for _, v := range []string{"EPR_LOG_TYPE", "EPR_LOG_LEVEL", "EPR_METRICS_ADDRESS", "EPR_HTTPPROF", "EPR_TLS_CERT"} {
		if chance(0.06) {
			d.Env = append(d.Env, v+"=")
		}
	}
	if chance(0.1) {
		d.Env = append(d.Env, "EPR_NOT_A_FLAG=1", "epr_address=127.0.0.1:1")
	}
	if chance(0.04) {
		d.Env = append(d.Env, "EPR_PACKAGE_PATHS_WORKERS="+pick("0", "-2"))
	}
}

var titleLine = regexp.MustCompile(`(?m)^title:.*$`)

// retitle replaces the title of the package folder dir's manifest.
func retitle(dir, title string) error {
	p := filepath.Join(dir, "manifest.yml")
	m, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if !titleLine.Match(m) {
		return fmt.Errorf("%s: no title line", p)
	}
	return os.WriteFile(p, titleLine.ReplaceAll(m, []byte(fmt.Sprintf("title: %q", title))), 0o644)
}

// zipTitled is zip, with the manifest's title replaced when title is set.
func (s *DeploySources) zipTitled(tb testing.TB, src, title string) []byte {
	tb.Helper()
	if title == "" {
		return s.zip(tb, src)
	}
	key := src + "\x00" + title
	s.mu.Lock()
	defer s.mu.Unlock()
	if z, ok := s.zips[key]; ok {
		return z
	}
	dir := filepath.Join(tb.TempDir(), filepath.FromSlash(src))
	if err := copyPackage(filepath.Join(s.Dir, filepath.FromSlash(src)), dir, ""); err != nil {
		tb.Fatalf("eprdiff: copy %s: %v", src, err)
	}
	if err := retitle(dir, title); err != nil {
		tb.Fatalf("eprdiff: %v", err)
	}
	var buf bytes.Buffer
	if _, _, err := builder.WriteV1(context.Background(), &buf, dir); err != nil {
		tb.Fatalf("eprdiff: zip %s: %v", src, err)
	}
	if s.zips == nil {
		s.zips = map[string][]byte{}
	}
	s.zips[key] = buf.Bytes()
	return buf.Bytes()
}

// moreRequests are what Deployment.Requests asks besides its first list:
// Fleet's other filters (spec range, agent version, experimental with a
// category, a package with a Kibana version), unclean paths and strict
// slashes, and other methods than GET and HEAD (EPR's routes take any:
// with package paths there is no storage backend to forward them to).
func moreRequests(pkgs []Package) []Request {
	out := Get("/search?spec.min=1.0&spec.max=3.0&prerelease=true", "/search?spec.min=3.0", "/search?agent.version=8.12.0&prerelease=true",
		"/search?experimental=true&category=web", "/categories?experimental=true", "/categories?spec.max=2.9&prerelease=true",
		"/search?prerelease=true&type=integration&kibana.version=8.12.2&capabilities=apm")
	for _, n := range names(pkgs) {
		out = append(out, Get("/search?package="+n+"&kibana.version=8.12.2&prerelease=true", "/search?package="+n+"&experimental=true")...)
	}
	out = append(out, Redirects(pkgs)...)
	out = append(out, WithMethod(Sample(pkgs), http.MethodPost)...)
	out = append(out, WithMethod(Get("/search", "/health", "/"), http.MethodOptions)...)
	return out
}
