package eprdiff

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"pkgstore/internal/builder"
	"pkgstore/internal/pkg/packageid"
)

// A Deployment is one generated EPR deployment: a working directory with
// (or without) a config.yml, package folders around it, an EPR command
// line and EPR_* environment. It is a pure description, the same for the
// same seed (GenerateDeployment); Write lays it out under a root folder,
// so that the reference and ours each run over an identical copy.
//
// Paths in Files are relative to the root; the working directory is
// root/work. "{{ROOT}}" in Config and Args stands for the root's absolute
// path, "{{ADDR}}" in Args and Env for the listen address.
type Deployment struct {
	Seed int64
	// What says what the generator chose, one line each, for messages.
	What []string
	// Files are written in order.
	Files []DeployFile
	// Args and Env are EPR's command line and EPR_* variables.
	Args []string
	Env  []string
	// Packages are every package the deployment places somewhere (served
	// or not): the request lists probe each.
	Packages []DeployPackage
	// Variants are the NAME-VERSIONs placed as copies that differ (other
	// titles). EPR's legacy selection (/search?experimental=true) may pick
	// a later indexer's copy of one and answer that copy's document where
	// pkgstore answers the served copy's: the documented deviation of
	// docs/epr-dropin.md.
	Variants []string
}

// DeployFile is one file, folder or symbolic link of a deployment.
type DeployFile struct {
	Path string // relative to the root, slash-separated
	// Exactly one of: Data (a file), Dir (an empty folder), Link (a
	// symbolic link to this relative target), Zip (NAME/VERSION of a
	// source package, zipped), Copy (NAME/VERSION of a source package,
	// copied as a folder).
	Data []byte
	Dir  bool
	Link string
	Zip  string
	Copy string
	// Drop is a file left out of a copied package (relative to it): an
	// invalid package.
	Drop string
	// Title, with Zip or Copy, replaces the manifest's title: a variant
	// of the same NAME-VERSION, so that which copy wins shows.
	Title string
}

// DeployPackage is a source package a deployment uses.
type DeployPackage struct {
	Name, Version string
}

// DeploySources are the source packages of generated deployments: EPR's
// test packages (testdata/epr-packages/package/NAME/VERSION), zipped once
// on demand.
type DeploySources struct {
	Dir  string
	mu   sync.Mutex
	zips map[string][]byte
}

// deployPool are the source packages drawn from, NAME/VERSION. Each passes
// EPR's validation; they cover prereleases, several versions of one name
// and several categories.
var deployPool = []string{
	"example/1.0.0", "example/1.1.0", "example/1.2.0-rc1", "foo/1.0.0",
	"multiversion/1.0.3", "multiversion/1.1.0", "metricsonly/2.0.1",
	"good_content/0.1.0", "reference/1.0.0", "ilm_policy/1.0.0",
}

// deploySig is what generated .sig files hold: EPR and ours only check
// that the file exists and serve its bytes.
var deploySig = []byte("-----BEGIN PGP SIGNATURE-----\n\niQEzBAABCAAdFiEEgenerated\n=abcd\n-----END PGP SIGNATURE-----\n")

// GenerateDeployment returns the deployment of seed: config.yml shapes
// (package_paths as lists or one string; relative, ./, trailing-slash,
// absolute, duplicate, missing, empty and symlinked folders; cache_time.*
// as numbers, durations, a nested mapping; unknown keys; comments; an
// empty file; no file; a file elsewhere through -config or EPR_CONFIG),
// EPR_* variables against flags (-x and --x, -x=v and -x v, booleans, a
// boolean's "-x false" that sets it and ends the flags) and
// package folders (zips with and without .zip.sig, NAME/VERSION/ and
// NAME-VERSION/ folders, nested zips and folders, one revision as a zip
// and a folder in two paths, invalid packages, non-package and hidden
// files); and, from a second random stream (deploy_more.go), YAML 1.1 as
// EPR reads config.yml (anchors, aliases, merge keys, octal and hex, nulls,
// tabs, document markers, a byte order mark, CRLF), empty and unknown
// EPR_* variables, dangling and followed links to zips, build metadata in
// version folders, two variants of one NAME-VERSION, a folder in a
// signature's place, links inside folder packages.
func GenerateDeployment(seed int64) *Deployment {
	r := rand.New(rand.NewPCG(uint64(seed), 0x45505244))
	// Shapes added later draw from a second stream, so that a seed's
	// first shapes stay what they were when its runs were checked.
	r2 := rand.New(rand.NewPCG(uint64(seed), 0x45505232))
	chance2 := func(p float64) bool { return r2.Float64() < p }
	pick2 := func(xs ...string) string { return xs[r2.IntN(len(xs))] }
	d := &Deployment{Seed: seed}
	say := func(format string, a ...any) { d.What = append(d.What, fmt.Sprintf(format, a...)) }
	chance := func(p float64) bool { return r.Float64() < p }
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	used := map[string]bool{}
	usePkg := func(src string) {
		if !used[src] {
			used[src] = true
			n, v, _ := strings.Cut(src, "/")
			d.Packages = append(d.Packages, DeployPackage{Name: n, Version: v})
		}
	}
	d.Files = append(d.Files, DeployFile{Path: "work", Dir: true})

	// Flags: signatures and validation first, they decide the packages.
	requireSigs := true
	switch r.IntN(6) {
	case 0:
		say("signatures required (default)")
	case 1:
		requireSigs = false
		d.Args = append(d.Args, "-require-package-signatures=false")
	case 2:
		requireSigs = false
		d.Args = append(d.Args, "--require-package-signatures=false")
	case 3:
		requireSigs = false
		d.Env = append(d.Env, "EPR_REQUIRE_PACKAGE_SIGNATURES=false")
	case 4:
		// The flag beats its variable.
		requireSigs = false
		d.Env = append(d.Env, "EPR_REQUIRE_PACKAGE_SIGNATURES=true")
		d.Args = append(d.Args, "-require-package-signatures=false")
	case 5:
		d.Env = append(d.Env, "EPR_REQUIRE_PACKAGE_SIGNATURES=false")
		d.Args = append(d.Args, "--require-package-signatures")
	}
	switch r.IntN(5) {
	case 0, 1:
		say("validation on (default)")
	case 2:
		d.Args = append(d.Args, "-disable-package-validation")
	case 3:
		d.Args = append(d.Args, "--disable-package-validation=true")
	case 4:
		d.Env = append(d.Env, "EPR_DISABLE_PACKAGE_VALIDATION=true")
	}
	signAll := !requireSigs || chance(0.75)

	// Package folders.
	type ppath struct{ entry, dir string } // config entry, folder below the root ("" missing)
	var paths []ppath
	n := 1 + r.IntN(3)
	for i := range n {
		real := fmt.Sprintf("work/pkgs%d", i)
		var entry string
		switch r.IntN(6) {
		case 0:
			entry = fmt.Sprintf("pkgs%d", i)
		case 1:
			entry = fmt.Sprintf("./pkgs%d", i)
		case 2:
			entry = fmt.Sprintf("pkgs%d/", i)
		case 3:
			real = fmt.Sprintf("abs/pkgs%d", i)
			entry = "{{ROOT}}/" + real
		case 4:
			// A symlinked folder (as a volume mount often is).
			real = fmt.Sprintf("real/pkgs%d", i)
			d.Files = append(d.Files, DeployFile{Path: "real", Dir: true},
				DeployFile{Path: fmt.Sprintf("work/link%d", i), Link: fmt.Sprintf("../%s", real)})
			entry = fmt.Sprintf("link%d", i)
		case 5:
			entry = fmt.Sprintf("./sub/../pkgs%d", i)
		}
		d.Files = append(d.Files, DeployFile{Path: real, Dir: true})
		paths = append(paths, ppath{entry, real})
		say("package path %q -> %s", entry, real)
	}
	sigFor := func(p string) {
		if signAll || chance(0.5) {
			d.Files = append(d.Files, DeployFile{Path: p + ".sig", Data: deploySig})
		}
	}
	for _, p := range paths {
		k := 1 + r.IntN(3)
		for range k {
			src := deployPool[r.IntN(len(deployPool))]
			name, version, _ := strings.Cut(src, "/")
			usePkg(src)
			switch r.IntN(6) {
			case 0, 1:
				f := p.dir + "/" + name + "-" + version + ".zip"
				d.Files = append(d.Files, DeployFile{Path: f, Zip: src})
				sigFor(f)
				say("%s: zip %s", p.dir, src)
			case 2:
				f := p.dir + "/" + pick("a", "nested/deeper", "x/y/z") + "/" + name + "-" + version + ".zip"
				d.Files = append(d.Files, DeployFile{Path: f, Zip: src})
				sigFor(f)
				say("%s: nested zip %s", f, src)
			case 3, 4:
				f := p.dir + "/" + src
				d.Files = append(d.Files, DeployFile{Path: f, Copy: src})
				sigFor(f)
				say("%s: folder %s", p.dir, src)
			case 5:
				f := p.dir + "/" + pick("", "deep/") + name + "-" + version
				d.Files = append(d.Files, DeployFile{Path: f, Copy: src})
				say("%s: NAME-VERSION folder", f)
			}
		}
		// Not packages.
		if chance(0.3) {
			d.Files = append(d.Files, DeployFile{Path: p.dir + "/README.txt", Data: []byte("packages for the registry\n")})
			say("%s: README.txt", p.dir)
		}
		if chance(0.3) {
			d.Files = append(d.Files, DeployFile{Path: p.dir + "/.DS_Store", Data: []byte{0, 0, 0, 1, 'B', 'u', 'd', '1'}})
			say("%s: .DS_Store", p.dir)
		}
		if chance(0.2) {
			src := deployPool[r.IntN(len(deployPool))]
			name, version, _ := strings.Cut(src, "/")
			usePkg(src)
			f := p.dir + "/.hidden/" + name + "-" + version + ".zip"
			d.Files = append(d.Files, DeployFile{Path: f, Zip: src}, DeployFile{Path: f + ".sig", Data: deploySig})
			say("%s: zip in a hidden folder", f)
		}
		if chance(0.15) {
			d.Files = append(d.Files, DeployFile{Path: p.dir + "/broken-9.9.9.zip", Data: []byte("not a zip\n")})
			say("%s: a .zip that is not one", p.dir)
		}
	}
	// One revision as a zip in one path and a folder in another.
	if len(paths) > 1 && chance(0.3) {
		src := deployPool[r.IntN(len(deployPool))]
		name, version, _ := strings.Cut(src, "/")
		usePkg(src)
		a, b := paths[0].dir, paths[1].dir
		if chance(0.5) {
			a, b = b, a
		}
		za := a + "/" + name + "-" + version + ".zip"
		fb := b + "/" + src
		d.Files = append(d.Files, DeployFile{Path: za, Zip: src}, DeployFile{Path: za + ".sig", Data: deploySig},
			DeployFile{Path: fb, Copy: src}, DeployFile{Path: fb + ".sig", Data: deploySig})
		say("%s as a zip in %s and a folder in %s", src, a, b)
	}
	// Invalid packages.
	if chance(0.12) {
		p := paths[r.IntN(len(paths))]
		d.Files = append(d.Files, DeployFile{Path: p.dir + "/foo/1.0.0", Copy: "foo/1.0.0", Drop: "docs/README.md"},
			DeployFile{Path: p.dir + "/foo/1.0.0.sig", Data: deploySig})
		usePkg("foo/1.0.0")
		say("%s: foo/1.0.0 without its README", p.dir)
	}
	if chance(0.12) {
		p := paths[r.IntN(len(paths))]
		d.Files = append(d.Files, DeployFile{Path: p.dir + "/foo/1.0.1", Copy: "foo/1.0.0"},
			DeployFile{Path: p.dir + "/foo/1.0.1.sig", Data: deploySig})
		usePkg("foo/1.0.0")
		say("%s: foo/1.0.1 folder holding version 1.0.0", p.dir)
	}

	var dirs []string
	for _, p := range paths {
		dirs = append(dirs, p.dir)
	}
	morePackages(d, r2, chance2, usePkg, dirs)

	// config.yml.
	var entries []string
	for _, p := range paths {
		entries = append(entries, p.entry)
	}
	if chance(0.2) {
		entries = append(entries, entries[r.IntN(len(entries))])
		say("a package path twice")
	}
	if chance(0.15) {
		entries = append(entries, "missing")
		say("a missing package path")
	}
	if chance(0.15) {
		d.Files = append(d.Files, DeployFile{Path: "work/empty", Dir: true})
		entries = append(entries, "empty")
		say("an empty package path")
	}
	var cfg strings.Builder
	if chance(0.5) {
		cfg.WriteString("# EPR configuration\n")
	}
	if chance(0.3) {
		cfg.WriteString("public_dir: ./public\n")
	}
	switch {
	case len(entries) == 1 && chance(0.5):
		fmt.Fprintf(&cfg, "package_paths: %s\n", entries[0])
		say("package_paths as one string")
	case chance(0.3):
		fmt.Fprintf(&cfg, "package_paths: [%s]\n", strings.Join(entries, ", "))
		say("package_paths as a flow list")
	default:
		cfg.WriteString("package_paths:\n")
		for _, e := range entries {
			if chance(0.2) {
				fmt.Fprintf(&cfg, "  - %q # quoted\n", e)
			} else {
				fmt.Fprintf(&cfg, "  - %s\n", e)
			}
		}
	}
	for _, key := range []string{"index", "search", "categories", "catch_all"} {
		switch r.IntN(6) {
		case 0:
			fmt.Fprintf(&cfg, "cache_time.%s: %d\n", key, 1+r.IntN(600))
		case 1:
			fmt.Fprintf(&cfg, "cache_time.%s: %s\n", key, pick("1m", "90s", "1m30s", "2h", "0s", "500ms", "1h0m0s"))
		case 2:
			fmt.Fprintf(&cfg, "cache_time.%s: %q\n", key, pick("5m", "15s", "1h"))
		}
	}
	if chance(0.15) {
		cfg.WriteString("cache_time:\n  search: 1s\n  index: 1s\n")
		say("cache_time as a nested mapping")
	}
	if chance(0.2) {
		cfg.WriteString("unknown.key: 42\nsearch.cache_size: 100\n")
		say("unknown keys")
	}
	config := reshapeConfig(d, cfg.String(), chance2, pick2)
	switch r.IntN(20) {
	case 0:
		config = ""
		say("config.yml empty")
	case 1:
		config = "# only a comment\n"
		say("config.yml only a comment")
	}
	switch r.IntN(20) {
	case 0:
		say("no config.yml")
	case 1, 2, 3:
		d.Files = append(d.Files, DeployFile{Path: "work/conf/epr.yml", Data: []byte(config)})
		if chance(0.5) {
			d.Args = append(d.Args, pick("-config", "--config"), "conf/epr.yml")
		} else {
			d.Env = append(d.Env, "EPR_CONFIG=conf/epr.yml")
		}
		say("config elsewhere (conf/epr.yml)")
	case 4:
		d.Files = append(d.Files, DeployFile{Path: "abs/epr.yml", Data: []byte(config)})
		d.Args = append(d.Args, "-config={{ROOT}}/abs/epr.yml")
		say("config by absolute path")
	default:
		d.Files = append(d.Files, DeployFile{Path: "work/config.yml", Data: []byte(config)})
	}

	// The rest of the command line.
	switch r.IntN(5) {
	case 0:
		d.Args = append(d.Args, "-address", "{{ADDR}}")
	case 1:
		d.Args = append(d.Args, "--address", "{{ADDR}}")
	case 2:
		d.Args = append(d.Args, "-address={{ADDR}}")
	case 3:
		d.Args = append(d.Args, "--address={{ADDR}}")
	case 4:
		d.Env = append(d.Env, "EPR_ADDRESS={{ADDR}}")
	}
	if chance(0.3) {
		d.Args = append(d.Args, "-allow-unknown-query-parameters")
	}
	switch r.IntN(4) {
	case 0:
		d.Env = append(d.Env, "EPR_LOG_LEVEL="+pick("warn", "error", "WARN"))
	case 1:
		d.Args = append(d.Args, "-log-level", pick("warn", "error"))
	}
	if chance(0.2) {
		d.Args = append(d.Args, "-log-type", "dev")
	}
	if chance(0.2) {
		d.Env = append(d.Env, "EPR_PACKAGE_PATHS_WORKERS="+pick("1", "3"))
	}
	switch r.IntN(10) {
	case 0:
		d.Args = append(d.Args, "-package-paths-enable-watcher")
	case 1:
		d.Env = append(d.Env, "EPR_PACKAGE_PATHS_ENABLE_WATCHER=true")
	}
	if chance(0.1) {
		// "-flag false" is "-flag" and then an argument, which ends
		// the flags (Go's flag rules): so it comes last.
		d.Args = append(d.Args, pick("-allow-unknown-query-parameters", "--allow-unknown-query-parameters"), pick("false", "true"))
		say("a boolean flag with its value after a space, last")
	}
	oddEnvironment(d, chance2, pick2)
	say("args %q env %q", d.Args, d.Env)
	slices.SortFunc(d.Packages, func(a, b DeployPackage) int {
		return strings.Compare(a.Name+"/"+a.Version, b.Name+"/"+b.Version)
	})
	return d
}

// Command returns the deployment's arguments and environment for a root
// and listen address.
func (d *Deployment) Command(root, addr string) (args, env []string) {
	rep := strings.NewReplacer("{{ROOT}}", root, "{{ADDR}}", addr)
	for _, a := range d.Args {
		args = append(args, rep.Replace(a))
	}
	for _, e := range d.Env {
		env = append(env, rep.Replace(e))
	}
	return args, env
}

// WorkDir is the deployment's working directory below root.
func WorkDir(root string) string { return filepath.Join(root, "work") }

// Write lays the deployment out below root (absolute, existing).
func (d *Deployment) Write(tb testing.TB, src *DeploySources, root string) {
	tb.Helper()
	rep := strings.NewReplacer("{{ROOT}}", root)
	for _, f := range d.Files {
		p := filepath.Join(root, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		var err error
		switch {
		case f.Dir:
			err = os.MkdirAll(p, 0o755)
		case f.Link != "":
			err = os.Symlink(f.Link, p)
		case f.Zip != "":
			err = os.WriteFile(p, src.zipTitled(tb, f.Zip, f.Title), 0o644)
		case f.Copy != "":
			err = copyPackage(filepath.Join(src.Dir, filepath.FromSlash(f.Copy)), p, f.Drop)
			if err == nil && f.Title != "" {
				err = retitle(p, f.Title)
			}
		default:
			err = os.WriteFile(p, []byte(rep.Replace(string(f.Data))), 0o644)
		}
		if err != nil {
			tb.Fatalf("eprdiff: deployment %d: %s: %v", d.Seed, f.Path, err)
		}
	}
	// One modification time for everything: EPR writes the files' times
	// into the zips it generates for folder packages, and two copies
	// written a second apart must serve the same bytes.
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.Type()&fs.ModeSymlink != 0 {
			// The link's own time: EPR's zip of a folder package
			// holding a link writes it (Lstat).
			ts := []unix.Timespec{unix.NsecToTimespec(deployTime.UnixNano()), unix.NsecToTimespec(deployTime.UnixNano())}
			return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
		}
		return os.Chtimes(p, deployTime, deployTime)
	})
	if err != nil {
		tb.Fatalf("eprdiff: deployment %d: %v", d.Seed, err)
	}
}

// deployTime is every generated file's modification time.
var deployTime = time.Date(2024, 5, 17, 10, 20, 30, 0, time.UTC)

// Requests are what a client asks of the deployment: /, /health,
// /search with and without filters, /categories, every package's
// document, static files, zip and signature, and 404s.
func (d *Deployment) Requests(src *DeploySources) []Request {
	var pkgs []Package
	for _, p := range d.Packages {
		pk := Package{ID: packageid.ID{Name: p.Name, Version: p.Version}}
		pk.Files = src.files(p.Name + "/" + p.Version)
		pkgs = append(pkgs, pk)
	}
	var out []Request
	out = append(out, Root()...)
	out = append(out, FleetQueries(pkgs)...)
	out = append(out, Get("/search?prerelease=true", "/search?all=true", "/search?type=integration", "/search?type=input&prerelease=true",
		"/search?kibana.version=7.14.0", "/search?kibana.version=8.12.2&all=true", "/search?unknown=1", "/categories?unknown=1",
		"/search?category=web", "/categories?include_policy_templates=true")...)
	for _, n := range names(pkgs) {
		out = append(out, Get("/search?package="+n, "/search?package="+n+"&prerelease=true", "/search?package="+n+"&all=true")...)
	}
	out = append(out, Documents(pkgs)...)
	// Static files: a few per package (all of them would make the run
	// long without reaching another code path).
	for _, a := range [][]Request{Assets(pkgs)} {
		for i, r := range a {
			if i%3 == 0 {
				out = append(out, r)
			}
		}
	}
	out = append(out, Artifacts(pkgs)...)
	out = append(out, Get("/epr/broken/broken-9.9.9.zip", "/package/foo/1.0.1/", "/epr/foo/foo-1.0.1.zip", "/package/broken/9.9.9/")...)
	out = append(out, Errors(pkgs)[:12]...)
	out = append(out, Heads(Sample(pkgs))...)
	out = append(out, moreRequests(pkgs)...)
	return out
}

func (s *DeploySources) zip(tb testing.TB, src string) []byte {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if z, ok := s.zips[src]; ok {
		return z
	}
	var buf bytes.Buffer
	if _, _, err := builder.WriteV1(context.Background(), &buf, filepath.Join(s.Dir, filepath.FromSlash(src))); err != nil {
		tb.Fatalf("eprdiff: zip %s: %v", src, err)
	}
	if s.zips == nil {
		s.zips = map[string][]byte{}
	}
	s.zips[src] = buf.Bytes()
	return buf.Bytes()
}

func (s *DeploySources) files(src string) []string {
	root := filepath.Join(s.Dir, filepath.FromSlash(src))
	var out []string
	_ = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// copyPackage copies a package folder, leaving out drop.
func copyPackage(from, to, drop string) error {
	return filepath.WalkDir(from, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if e.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if filepath.ToSlash(rel) == drop {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
}
