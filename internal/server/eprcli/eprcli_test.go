package eprcli

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/testkit/eprtest"
)

// world is a process environment for Parse: variables and files.
type world struct {
	env   map[string]string
	files map[string]string
}

func (w world) Env() Env {
	return Env{
		LookupEnv: func(k string) (string, bool) { v, ok := w.env[k]; return v, ok },
		ReadFile: func(p string) ([]byte, error) {
			if s, ok := w.files[p]; ok {
				return []byte(s), nil
			}
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		},
		Workers: 2,
	}
}

var defaultFiles = map[string]string{"config.yml": "package_paths:\n  - /packages/package-registry\n", "empty.yml": ""}

func parse(t *testing.T, args []string, w world) (*Invocation, error) {
	t.Helper()
	if w.files == nil {
		w.files = defaultFiles
	}
	return Parse("package-registry", args, w.Env(), &bytes.Buffer{})
}

// flagValue returns the value serve gets for name ("" and false when
// absent); a repeated flag's values are joined with commas.
func flagValue(args []string, name string) (string, bool) {
	var vals []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--"+name && i+1 < len(args) {
			vals = append(vals, args[i+1])
			i++
		} else if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			vals = append(vals, v)
		} else if a == "--"+name {
			vals = append(vals, "true")
		}
	}
	return strings.Join(vals, ","), len(vals) > 0
}

// TestFlagSyntaxAndPrecedence: Go's flag rules (-flag, --flag, -flag=v),
// EPR_<FLAG> variables, and the flag beating its variable.
func TestFlagSyntaxAndPrecedence(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		flag string // serve flag checked
		want string
	}{
		{"default address", nil, nil, "addr", "localhost:8080"},
		{"single dash", []string{"-address", "0.0.0.0:9000"}, nil, "addr", "0.0.0.0:9000"},
		{"double dash", []string{"--address", "0.0.0.0:9001"}, nil, "addr", "0.0.0.0:9001"},
		{"equals", []string{"-address=0.0.0.0:9002"}, nil, "addr", "0.0.0.0:9002"},
		{"environment", nil, map[string]string{"EPR_ADDRESS": "0.0.0.0:8080"}, "addr", "0.0.0.0:8080"},
		{"flag beats environment", []string{"-address", "127.0.0.1:1"}, map[string]string{"EPR_ADDRESS": "0.0.0.0:8080"}, "addr", "127.0.0.1:1"},
		{"PKGSTORE_ variable does not beat EPR's default", nil, map[string]string{"PKGSTORE_ADDR": "x:1"}, "addr", "localhost:8080"},
		{"log type ecs by default", nil, nil, "log-format", "ecs"},
		{"log type dev", []string{"-log-type", "dev"}, nil, "log-format", "text"},
		{"log type from env", nil, map[string]string{"EPR_LOG_TYPE": "dev"}, "log-format", "text"},
		// EPR's logger takes an empty type as its default, ecs (a
		// Helm value left empty: EPR_LOG_TYPE="").
		{"log type empty", []string{"-log-type="}, nil, "log-format", "ecs"},
		{"log type empty from env", nil, map[string]string{"EPR_LOG_TYPE": ""}, "log-format", "ecs"},
		{"log level", []string{"-log-level", "DEBUG"}, nil, "log-level", "debug"},
		{"log level fatal", []string{"-log-level=fatal"}, nil, "log-level", "error"},
		{"metrics", []string{"-metrics-address", ":9090"}, nil, "metrics-addr", ":9090"},
		{"metrics from env", nil, map[string]string{"EPR_METRICS_ADDRESS": ":9091"}, "metrics-addr", ":9091"},
		{"httpprof", []string{"-httpprof", "localhost:6060"}, nil, "pprof-addr", "localhost:6060"},
		{"tls", []string{"-tls-cert", "c.pem", "-tls-key", "k.pem", "-tls-min-version", "1.3"}, nil, "tls-min-version", "1.3"},
		{"tls cert", []string{"-tls-cert", "c.pem", "-tls-key", "k.pem"}, nil, "tls-cert", "c.pem"},
		{"signatures required by default", nil, nil, "require-signatures", "true"},
		{"signatures off", []string{"-require-package-signatures=false"}, nil, "require-signatures", "false"},
		{"signatures off from env", nil, map[string]string{"EPR_REQUIRE_PACKAGE_SIGNATURES": "false"}, "require-signatures", "false"},
		{"validation on by default", nil, nil, "no-spec-validation", "false"},
		{"validation off", []string{"--disable-package-validation"}, nil, "no-spec-validation", "true"},
		{"unknown query parameters", []string{"-allow-unknown-query-parameters=false"}, nil, "allow-unknown-query-parameters", "false"},
		{"proxy mode", []string{"-feature-proxy-mode"}, nil, "proxy-to", "https://epr.elastic.co/"},
		{"proxy to", []string{"-feature-proxy-mode", "-proxy-to", "https://mirror.example/"}, nil, "proxy-to", "https://mirror.example/"},
		{"insecure proxy allowed", []string{"-feature-proxy-mode", "-proxy-to", "http://10.0.0.1/", "-proxy-allow-insecure"}, nil, "proxy-to", "http://10.0.0.1/"},
		{"proxy-to alone is no proxy", []string{"-proxy-to", "https://mirror.example/"}, nil, "proxy-to", ""},
		{"dry run", []string{"-dry-run"}, nil, "dry-run", "true"},
		{"read-only always", nil, nil, "read-only", "true"},
		{"package paths", nil, nil, "package-path", "/packages/package-registry"},
		{"package paths read once", nil, nil, "package-path-watch-interval", "0s"},
		{"package paths watched", []string{"-package-paths-enable-watcher"}, nil, "package-path-watch-interval", ""},
		{"package path workers", []string{"-package-paths-workers", "7"}, nil, "package-path-workers", "7"},
		{"package path workers from env", nil, map[string]string{"EPR_PACKAGE_PATHS_WORKERS": "3"}, "package-path-workers", "3"},
		{"package path workers default", nil, nil, "package-path-workers", "2"},
		{"no store: memory", nil, nil, "public-bucket", "mem://"},
		// EPR refuses to start without a package when only its package
		// paths serve (not in proxy mode, not with a storage indexer).
		{"no package: refused", nil, nil, "require-packages", "true"},
		{"no package: proxy mode starts", []string{"-feature-proxy-mode"}, nil, "require-packages", ""},
		{"no package: storage indexer starts", []string{"-feature-storage-indexer", "-storage-indexer-bucket-internal", "gs://internal", "-storage-endpoint", "gs://pub"}, nil, "require-packages", ""},
		{"no package: watcher starts", []string{"-package-paths-enable-watcher"}, nil, "require-packages", ""},
		{"no package: refused without the watcher", nil, nil, "require-packages", "true"},
		{"no package: pkgstore store starts", nil, map[string]string{"PKGSTORE_DATA": "/var/lib/pkgstore"}, "require-packages", ""},
		{"pkgstore store named", nil, map[string]string{"PKGSTORE_DATA": "/var/lib/pkgstore"}, "public-bucket", ""},
		{"storage indexer", []string{"-feature-storage-indexer", "-storage-indexer-bucket-internal", "gs://internal", "-storage-endpoint", "https://storage.googleapis.com/public-bucket/"}, nil, "public-bucket", "gs://public-bucket"},
		{"storage indexer internal", []string{"-feature-storage-indexer", "-storage-indexer-bucket-internal", "gs://internal", "-storage-endpoint", "gs://pub"}, nil, "internal-bucket", "gs://internal"},
		{"storage indexer interval", []string{"-feature-storage-indexer", "-storage-indexer-bucket-internal", "gs://internal", "-storage-endpoint", "gs://pub", "-storage-indexer-watch-interval", "5s"}, nil, "watch-interval", "5s"},
		{"emulator endpoint", []string{"-feature-sql-storage-indexer", "-storage-indexer-bucket-internal", "gs://internal", "-storage-endpoint", "http://127.0.0.1:4443/pub/"}, map[string]string{"STORAGE_EMULATOR_HOST": "127.0.0.1:4443"}, "public-bucket", "gs://pub"},
		{"public bucket from pkgstore's variable", []string{"-feature-storage-indexer", "-storage-indexer-bucket-internal", "s3://internal"}, map[string]string{"PKGSTORE_PUBLIC_BUCKET": "s3://public"}, "public-bucket", "s3://public"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := parse(t, tc.args, world{env: tc.env})
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := flagValue(inv.ServeArgs, tc.flag); got != tc.want {
				t.Errorf("--%s = %q, want %q (serve args %q)", tc.flag, got, tc.want, inv.ServeArgs)
			}
		})
	}
}

// TestRefusals: what EPR refuses, refused with its words and its exit
// class (usage: 2, start: 1).
func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		env   map[string]string
		files map[string]string
		usage bool
		want  string
	}{
		{"unknown flag", []string{"-bogus"}, nil, nil, true, "flag provided but not defined: -bogus"},
		{"TLS 1.0", []string{"-tls-min-version", "1.0"}, nil, nil, true, `invalid value "1.0" for flag -tls-min-version: unsupported TLS version: 1.0`},
		{"bad level", []string{"-log-level", "verbose"}, nil, nil, true, `unrecognized level: "verbose"`},
		{"bool with a space", []string{"-require-package-signatures", "false"}, nil, nil, false, ""},
		{"bad env", nil, map[string]string{"EPR_DRY_RUN": "notbool"}, nil, false, "failed to set -dry-run: parse error"},
		{"two bad env", nil, map[string]string{"EPR_DRY_RUN": "x", "EPR_PACKAGE_PATHS_WORKERS": "y"}, nil, false, "failed to set -package-paths-workers"},
		{"tls min without key", []string{"-tls-min-version", "1.2"}, nil, nil, false, "-tls-min-version set but missing TLS cert and key files (-tls-cert and -tls-key)"},
		{"both indexers", []string{"-feature-storage-indexer", "-feature-sql-storage-indexer"}, nil, nil, false, "mutually exclusive"},
		{"search cache", []string{"-feature-enable-search-cache"}, nil, nil, false, "search cache is only supported in SQL storage indexer"},
		{"categories cache", []string{"-feature-enable-categories-cache"}, nil, nil, false, "categories cache is just supported with SQL Storage indexer"},
		{"incremental with SQL", []string{"-feature-incremental-updates", "-feature-sql-storage-indexer"}, nil, nil, false, "feature-incremental-updates is not supported with feature-sql-storage-indexer"},
		// EPR checks the worker count with the flags, before -version
		// and the config file, after the indexer combinations and
		// before the proxy's scheme.
		{"no workers", []string{"-package-paths-workers=0"}, nil, nil, false, "package-paths-workers must be greater than 0"},
		{"negative workers from env", nil, map[string]string{"EPR_PACKAGE_PATHS_WORKERS": "-1"}, nil, false, "package-paths-workers must be greater than 0"},
		{"no workers, -version", []string{"-package-paths-workers=0", "-version"}, nil, nil, false, "package-paths-workers must be greater than 0"},
		{"no workers, no config", []string{"-package-paths-workers=0"}, nil, map[string]string{}, false, "package-paths-workers must be greater than 0"},
		{"no workers, http proxy", []string{"-package-paths-workers=0", "-feature-proxy-mode", "-proxy-to", "http://x/"}, nil, nil, false, "package-paths-workers must be greater than 0"},
		{"no workers, incremental with SQL", []string{"-package-paths-workers=0", "-feature-incremental-updates", "-feature-sql-storage-indexer"}, nil, nil, false, "feature-incremental-updates is not supported"},
		{"no workers, tls", []string{"-package-paths-workers=0", "-tls-min-version=1.2"}, nil, nil, false, "-tls-min-version set but missing"},
		{"http proxy", []string{"-feature-proxy-mode", "-proxy-to", "http://x/"}, nil, nil, false, `-proxy-to must use HTTPS (got "http://x/"); use -proxy-allow-insecure to allow HTTP`},
		{"bad log type", []string{"-log-type", "foo"}, nil, nil, false, `invalid logger type "foo"`},
		{"no config", nil, nil, map[string]string{}, false, "Configuration file is not available: config.yml"},
		{"no config from env", nil, map[string]string{"EPR_CONFIG": "/etc/epr.yml"}, map[string]string{}, false, "Configuration file is not available: /etc/epr.yml"},
		{"bad config", nil, nil, map[string]string{"config.yml": "cache_time.search: soon\n"}, false, "unpacking config failed (path: config.yml)"},
		// A cache time of zero (or less) stops EPR's router: every
		// handler wants one greater than 0s. (Found by the generated
		// deployments, TestEPRDeployments.)
		{"index cache time 0s", nil, nil, map[string]string{"config.yml": "cache_time.index: 0s\n"}, false, "can't create index handler: cache time must be greater than 0s"},
		{"search cache time 0", nil, nil, map[string]string{"config.yml": "cache_time.search: 0\n"}, false, "can't create search handler: cache time must be greater than 0s"},
		{"categories cache time 0.0", nil, nil, map[string]string{"config.yml": "cache_time.categories: 0.0\n"}, false, "can't create categories handler: cache time must be greater than 0s"},
		{"catch-all cache time 0s", nil, nil, map[string]string{"config.yml": "cache_time.catch_all: \"0s\"\n"}, false, "can't create artifacts handler: cache time must be greater than 0s"},
		{"cache time 0ms", nil, nil, map[string]string{"config.yml": "cache_time.search: 0ms\n"}, false, "can't create search handler"},
		{"half a second is enough", nil, nil, map[string]string{"config.yml": "cache_time.search: 0.5\ncache_time.index: 500ms\n"}, false, ""},
		{"watcher without package paths", []string{"-package-paths-enable-watcher", "-config", "empty.yml"}, nil, nil, false, "no package paths configured, cannot enable watcher"},
		{"watcher without package paths, proxy mode", []string{"-package-paths-enable-watcher", "-feature-proxy-mode", "-config", "empty.yml"}, nil, nil, false, "no package paths configured, cannot enable watcher"},
		{"storage indexer without bucket", []string{"-feature-storage-indexer"}, nil, nil, false, "needs -storage-indexer-bucket-internal"},
		{"storage endpoint over HTTP", []string{"-feature-storage-indexer", "-storage-indexer-bucket-internal", "gs://i"}, nil, nil, false, "pkgstore reads the public bucket directly"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.args, world{env: tc.env, files: tc.files})
			if tc.want == "" {
				// "-flag false" is "-flag" then an argument: accepted
				// (EPR ignores the argument; we warn).
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			var ue *UsageError
			if errors.As(err, &ue) != tc.usage {
				t.Errorf("usage error = %v, want %v", !tc.usage, tc.usage)
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	var out bytes.Buffer
	if _, err := Parse("package-registry", []string{"-help"}, world{files: defaultFiles}.Env(), &out); !errors.Is(err, ErrHelp) {
		t.Fatalf("-help: %v", err)
	}
	if !strings.Contains(out.String(), "-storage-indexer-bucket-internal string") {
		t.Errorf("-help printed %q", out.String())
	}
	// -version needs no config file, as in EPR.
	inv, err := parse(t, []string{"--version"}, world{files: map[string]string{}})
	if err != nil || !inv.PrintVersion {
		t.Fatalf("--version: %+v, %v", inv, err)
	}
	if got := VersionLine("v1.0.0"); got != "Elastic Package Registry version 1.40.1 (pkgstore v1.0.0)" {
		t.Errorf("VersionLine = %q", got)
	}
}

// TestWarnings: every flag accepted without effect says so, once.
func TestWarnings(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-package-paths-workers", "8", "-config", "empty.yml"}, "-package-paths-workers"},
		{[]string{"-feature-sql-storage-indexer", "-feature-enable-search-cache", "-storage-indexer-bucket-internal", "gs://i", "-storage-endpoint", "gs://p"}, "-feature-sql-storage-indexer"},
		{[]string{"-feature-storage-indexer", "-feature-incremental-updates", "-storage-indexer-bucket-internal", "gs://i", "-storage-endpoint", "gs://p"}, "-feature-incremental-updates"},
		{[]string{"-storage-indexer-bucket-internal", "gs://i"}, "no effect without -feature-storage-indexer"},
		{[]string{"-proxy-allow-insecure"}, "no effect without -feature-proxy-mode"},
		{[]string{"-log-level", "panic"}, "most severe level is error"},
		{[]string{"-address", "x:1", "stray"}, "ignored"},
	} {
		inv, err := parse(t, tc.args, world{})
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		n := 0
		for _, w := range inv.Warnings {
			if strings.Contains(w, tc.want) {
				n++
			}
			if strings.Contains(w, "\n") {
				t.Errorf("warning %q is not one line", w)
			}
		}
		if n != 1 {
			t.Errorf("%q: %d warnings about %q in %q", tc.args, n, tc.want, inv.Warnings)
		}
	}
	inv, err := parse(t, nil, world{})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Warnings) != 0 {
		t.Errorf("a plain start warns: %q", inv.Warnings)
	}
}

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		name  string
		yaml  string
		want  Config
		warns []string
	}{
		{"empty", "", DefaultConfig, nil},
		// The layout of EPR's Docker image configuration.
		{"docker image", "public_dir: ./public\n\npackage_paths:\n  - /packages/package-registry\n\ncache_time.search: 10m\ncache_time.categories: 10m\ncache_time.catch_all: 10m\n",
			Config{PackagePaths: []string{"/packages/package-registry"}, CacheTimeIndex: 10 * time.Second, CacheTimeSearch: 10 * time.Minute, CacheTimeCategories: 10 * time.Minute, CacheTimeCatchAll: 10 * time.Minute},
			[]string{"unknown keys ignored, as EPR ignores them: public_dir"}},
		{"relative paths kept", "package_paths:\n  - ./packages\n  - ../other\n", Config{PackagePaths: []string{"./packages", "../other"}, CacheTimeIndex: 10 * time.Second, CacheTimeSearch: 10 * time.Minute, CacheTimeCategories: 10 * time.Minute, CacheTimeCatchAll: 10 * time.Minute}, nil},
		{"one path", "package_paths: ./pkgs\ncache_time.index: 1m\ncache_time.search: 60\ncache_time.categories: 1.5\n",
			Config{PackagePaths: []string{"./pkgs"}, CacheTimeIndex: time.Minute, CacheTimeSearch: time.Minute, CacheTimeCategories: 1500 * time.Millisecond, CacheTimeCatchAll: 10 * time.Minute}, nil},
		{"nested mapping ignored as EPR ignores it", "cache_time:\n  search: 1s\n", DefaultConfig, []string{"nested mapping"}},
		{"sql keys", "sql_indexer.database_folder_path: /tmp\nsearch.cache_size: 10\n", DefaultConfig, []string{"search.cache_size is read by EPR's SQL", "sql_indexer.database_folder_path is read by EPR's SQL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, warns, err := ParseConfig([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*cfg, tc.want) {
				t.Errorf("got %+v, want %+v", *cfg, tc.want)
			}
			if len(warns) != len(tc.warns) {
				t.Fatalf("warnings %q, want %d", warns, len(tc.warns))
			}
			for i, w := range tc.warns {
				if !strings.Contains(warns[i], w) {
					t.Errorf("warning %q does not say %q", warns[i], w)
				}
			}
		})
	}
	for _, bad := range []string{"cache_time.search: soon\n", "cache_time.index: -5s\n", "cache_time.index: 0\n", "cache_time.catch_all: .nan\n",
		"cache_time.search: 1e20\n", "cache_time.search: 18446744073709551615\n", "cache_time.search: [1]\n", "package_paths:\n  - [x]\n", "a: {1: b}\n"} {
		cfg, _, err := ParseConfig([]byte(bad))
		if err == nil {
			// Read, but what EPR's router refuses to start with.
			err = checkCacheTimes(cfg)
		}
		if err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, _, err := ParseConfig(make([]byte, MaxConfigSize+1)); err == nil {
		t.Error("oversized config accepted")
	}
}

// referenceBinary returns the reference EPR launcher, or skips.
func referenceBinary(t *testing.T) string {
	t.Helper()
	return eprtest.Script(t)
}

// TestFlagSetIsEPRs compares our flag set, defaults and help texts with
// the reference binary's -help, line for line.
func TestFlagSetIsEPRs(t *testing.T) {
	script := referenceBinary(t)
	out, err := exec.Command(script, "-help").CombinedOutput()
	if err != nil {
		t.Fatalf("reference -help: %v\n%s", err, out)
	}
	ref := string(out)
	// GOMAXPROCS is the default worker count: compare at the reference's.
	workers := 2
	if m := regexp.MustCompile(`reading packages concurrently.*\(default (\d+)\)`).FindStringSubmatch(ref); m != nil {
		workers = atoi(t, m[1])
	}
	var ours bytes.Buffer
	fs := newFlagSet("package-registry", &ours, &Flags{}, workers)
	fs.PrintDefaults()
	// -version: ours is EPR's line, then the build in parentheses.
	v, err := exec.Command(script, "-version").Output()
	if err != nil {
		t.Fatalf("reference -version: %v", err)
	}
	if refLine := strings.TrimSpace(string(v)); !strings.HasPrefix(VersionLine("v0.0.0"), refLine+" (") {
		t.Errorf("version line %q does not extend the reference's %q", VersionLine("v0.0.0"), refLine)
	}
	_, refBody, _ := strings.Cut(ref, "\n") // "Usage of PATH:"
	if ours.String() != refBody {
		t.Errorf("flag set differs from the reference's -help:\n--- reference\n%s\n--- ours\n%s", refBody, ours.String())
	}
}

func atoi(t *testing.T, s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// TestConfigAsEPRReadsIt runs the reference binary over config files and
// compares what it says it read (its "Packages paths" and "Cache time"
// lines) with ParseConfig.
func TestConfigAsEPRReadsIt(t *testing.T) {
	script := referenceBinary(t)
	dir := t.TempDir()
	for i, y := range []string{
		"package_paths:\n  - ./a\n  - /abs/b\ncache_time.search: 60\ncache_time.index: 1m30s\n",
		"package_paths: ./one\ncache_time.catch_all: 2h\ncache_time.categories: 45\npublic_dir: ./public\n",
		"cache_time:\n  search: 1s\n  index: 2s\n",
		"",
		// YAML 1.1 as yaml.v2 reads it (issue 22's real configurations):
		// anchors, aliases, merge keys (a merge beats the key before it),
		// octal, hex, underscores, floats, tags, a first document only,
		// the later of two equal keys.
		"package_paths: [pkgs]\ncache_time.search: &t 7s\ncache_time.index: *t\n",
		"base: &b\n  cache_time.search: 7s\n  cache_time.catch_all: 3m\n<<: *b\ncache_time.catch_all: 4m\n",
		"cache_time.search: 5m\n<<: {cache_time.search: 7m}\n",
		"cache_time.search: 0x10\ncache_time.index: 017\ncache_time.categories: 0o17\ncache_time.catch_all: 1_000\n",
		"cache_time.search: 1e2\ncache_time.index: !!float 3\ncache_time.categories: 2.5\n",
		"---\npackage_paths: [a]\n---\ncache_time.search: 5s\n",
		"package_paths: [a]\npackage_paths: [b]\ncache_time.search: 1s\ncache_time.search: 2s\n",
		"\ufeffpackage_paths: [a]\r\ncache_time.search: 5s # five\r\n",
		"{package_paths: [a], \"cache_time.search\": 5s}\n",
		// null keeps a default; null items are "", scalars formatted
		// as go-ucfg formats them; a mapping is no path at all.
		"package_paths: [a, ~, 12, 1.50, yes, 0x10, 1e3, \"\"]\ncache_time.search: null\ncache_time.index: ~\n",
		"package_paths: {a: b}\n",
		"package_paths: ~\n",
		"package_paths: 2024\n",
		// Out of range: Go's wrapping multiplication, amd64's float
		// conversion (then refused by the router, as not positive).
		"cache_time.search: 9223372036\ncache_time.index: 18446744073709551615\ncache_time.categories: 1e20\ncache_time.catch_all: .inf\n",
		"cache_time.search: 10us\ncache_time.index: 1.5h\ncache_time.categories: -5\ncache_time.catch_all: \"-1m\"\n",
		"PACKAGE_PATHS: [a]\nCache_Time.Search: 5s\nsearch.cache_size: 5\n",
		// A list, or null, is no setting at all.
		"- package_paths: [x]\n  cache_time.search: 5s\n",
		"~\n",
	} {
		p := filepath.Join(dir, "c.yml")
		if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(script, "-config", p, "-address", "127.0.0.1:0", "-log-type", "dev")
		cmd.Dir = dir // no packages anywhere: it prints its configuration, then stops
		out, _ := cmd.CombinedOutput()
		cfg, _, err := ParseConfig([]byte(y))
		if err != nil {
			t.Fatalf("config %d: %v", i, err)
		}
		for _, want := range []string{
			"Packages paths: " + strings.Join(cfg.PackagePaths, ", "),
			"Cache time for /: " + cfg.CacheTimeIndex.String(),
			"Cache time for /search: " + cfg.CacheTimeSearch.String(),
			"Cache time for /categories: " + cfg.CacheTimeCategories.String(),
			"Cache time for all others: " + cfg.CacheTimeCatchAll.String(),
		} {
			if !regexp.MustCompile(regexp.QuoteMeta(want) + `(\t|\n)`).MatchString(string(out)) {
				t.Errorf("config %d (%q): the reference did not say %q:\n%s", i, y, want, out)
			}
		}
	}
}

// TestConfigRefusedAsEPRRefusesIt runs the reference over config files it
// cannot read (its "getting config" fatal line) and checks ParseConfig
// refuses each too: a file EPR would not start with must not start ours
// with settings nobody checked.
func TestConfigRefusedAsEPRRefusesIt(t *testing.T) {
	script := referenceBinary(t)
	dir := t.TempDir()
	for i, y := range []string{
		"cache_time.search: soon\n",
		"cache_time.search: \"30\"\n",
		"cache_time.search: yes\n",
		"cache_time.search: 2017-01-01\n",
		"cache_time.search: [1]\n",
		"cache_time.search: {a: 1}\n",
		"package_paths: [a, {x: y}]\n",
		"package_paths:\n  - [x]\n",
		"package_paths:\n\t- a\n",
		"just a string\n",
		"5\n",
		"- {1: 2}\n",
		"1: 2\n",
		"extra: {1: 2}\n",
		"extra: [{yes: 1}]\n",
		"? [a]\n: b\n",
		"package_paths: *nowhere\n",
	} {
		p := filepath.Join(dir, "c.yml")
		if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(script, "-config", p, "-address", "127.0.0.1:0", "-log-type", "dev")
		cmd.Dir = dir
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), "getting config") {
			t.Errorf("config %d (%q): the reference read it; move it to TestConfigAsEPRReadsIt:\n%s", i, y, out)
			continue
		}
		if cfg, _, err := ParseConfig([]byte(y)); err == nil {
			t.Errorf("config %d (%q): the reference refuses it, ParseConfig read %+v", i, y, *cfg)
		}
	}
}
