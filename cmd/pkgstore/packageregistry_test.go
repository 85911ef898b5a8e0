package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"pkgstore/internal/client"
	"pkgstore/internal/server/flagconfig"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/ziptest"
)

// TestPackageRegistryProcess starts the binary through a link named
// package-registry, with an EPR command line (storage indexer over a
// store's folders) in a folder holding EPR's config.yml, and checks that
// it answers as EPR: /health, / with EPR's service.version, /search, and
// pkgstore's build in /health?verbose=true.
func TestPackageRegistryProcess(t *testing.T) {
	store := servertest.Start(t, servertest.Options{})
	z := ziptest.Package(t, "hello", "1.0.0")
	if sub := store.Publish(t, "hello-1.0.0.zip", z, client.Options{Legacy: true}); sub.Status != "published" {
		t.Fatalf("publish: %+v", sub)
	}
	store.WaitVisible(t, "hello", "1.0.0")

	dir := t.TempDir()
	link := filepath.Join(dir, "package-registry")
	if err := os.Symlink(os.Args[0], link); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "package-registry.d")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	// EPR's image configuration, less the package folder (served by the
	// package_paths reader, tested with it).
	if err := os.WriteFile(filepath.Join(work, "config.yml"), []byte("public_dir: ./public\npackage_paths: []\ncache_time.search: 1m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(link, "-address", "127.0.0.1:0", "-feature-storage-indexer",
		"-storage-indexer-bucket-internal", "file://"+filepath.Join(store.Data, "internal"),
		"-storage-endpoint", "file://"+filepath.Join(store.Data, "public"),
		"--storage-indexer-watch-interval=1s")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "PKGSTORE_AS_CLI=1", "EPR_LOG_LEVEL=debug")
	p := startProcess(t, cmd)
	base := "http://" + p.Addr

	get := func(path string) (int, http.Header, []byte) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header, body
	}
	if code, _, body := get("/health"); code != 200 || len(body) != 0 {
		t.Errorf("/health: %d %q", code, body)
	}
	code, _, body := get("/")
	var index map[string]string
	if err := json.Unmarshal(body, &index); code != 200 || err != nil || index["service.name"] != "package-registry" || index["service.version"] != "1.40.1" {
		t.Errorf("/: %d %q (%v)", code, body, err)
	}
	code, hdr, body := get("/search")
	if code != 200 || !strings.Contains(string(body), `"name": "hello"`) {
		t.Errorf("/search: %d %q", code, body)
	}
	if cc := hdr.Get("Cache-Control"); !strings.Contains(cc, "max-age=60") {
		t.Errorf("/search Cache-Control %q, want config.yml's cache_time.search (1m)", cc)
	}
	code, _, body = get("/health?verbose=true")
	var h struct{ Status, Version string }
	if err := json.Unmarshal(body, &h); code != 200 || err != nil || h.Status != "ok" || !strings.HasPrefix(h.Version, "(devel)") {
		t.Errorf("/health?verbose=true: %d %q", code, body)
	}
	// ECS logs (EPR's default), at EPR_LOG_LEVEL, with the build on the
	// start line and config.yml's unknown key reported once.
	serving := p.waitLog(t, "serving", func(r map[string]any) bool { return r["message"] == "serving" })
	if v, _ := serving["version"].(string); !strings.HasPrefix(v, "(devel)") {
		t.Errorf("start line without the version: %v", serving)
	}
	p.waitLog(t, "about public_dir", func(r map[string]any) bool {
		m, _ := r["message"].(string)
		return r["log.level"] == "warn" && strings.Contains(m, "public_dir")
	})
	p.waitLog(t, "the mapping, with EPR_LOG_LEVEL", func(r map[string]any) bool {
		return r["message"] == "EPR command line mapped" && strings.Contains(fmt.Sprint(r["serve"]), "--log-level debug")
	})
}

// TestPackageRegistryExitCodes: EPR's exit codes and messages for help,
// version and what it refuses.
func TestPackageRegistryExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"-help"}, 0, ""},
		{"version", []string{"-version"}, 0, "Elastic Package Registry version 1.40.1 (pkgstore "},
		{"version with two dashes", []string{"--version"}, 0, "Elastic Package Registry version 1.40.1"},
		{"unknown flag", []string{"-bogus"}, 2, ""},
		{"pkgstore's flag is not EPR's", []string{"--addr", "x"}, 2, ""},
		{"missing config", []string{"-config", filepath.Join(t.TempDir(), "none.yml")}, 1, "Configuration file is not available"},
		{"http proxy", []string{"-feature-proxy-mode", "-proxy-to", "http://x/"}, 1, "-proxy-to must use HTTPS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runCLITimeout(t, 30*time.Second, append([]string{"package-registry"}, tc.args...)...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, output %q; want exit %d and %q", code, out, tc.code, tc.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, code := runCLITimeout(t, 30*time.Second, args...)
		if code != 0 || !strings.HasPrefix(out, "pkgstore ") || !strings.Contains(out, runtime.Version()) {
			t.Errorf("%q: exit %d, %q", args, code, out)
		}
	}
}

// TestServeConfigSources: serve's flags from PKGSTORE_<FLAG> and --config,
// precedence flag > environment > file, unknown keys refused by name.
func TestServeConfigSources(t *testing.T) {
	good := t.TempDir()
	for _, sub := range []string{"public", "internal"} {
		if err := os.Mkdir(filepath.Join(good, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(t.TempDir(), "nowhere")
	write := func(name, text string) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fileGood := write("good.yml", "read-only: true\ndata: "+good+"\nlog-level: warn\n")
	fileMissing := write("missing.yml", "read-only: true\ndata: "+missing+"\n")
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"file", nil, []string{"--config", fileGood}, 0, ""},
		{"file read (it names a missing folder: exit 5)", nil, []string{"--config", fileMissing}, 5, missing},
		{"environment beats file", map[string]string{"PKGSTORE_DATA": missing}, []string{"--config", fileGood}, 5, missing},
		{"flag beats environment", map[string]string{"PKGSTORE_DATA": missing}, []string{"--config", fileGood, "--data", good}, 0, ""},
		{"config from the environment", map[string]string{"PKGSTORE_CONFIG": fileMissing}, nil, 5, missing},
		{"unknown key", nil, []string{"--config", write("typo.yml", "read-only: true\nworkres: 2\n")}, 2, `unknown key "workres" (did you mean "workers"?)`},
		{"bad environment value", map[string]string{"PKGSTORE_WORKERS": "many"}, []string{"--config", fileGood}, 2, "PKGSTORE_WORKERS"},
		{"missing file", nil, []string{"--config", filepath.Join(missing, "x.yml")}, 2, "x.yml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			out, code := runCLITimeout(t, 30*time.Second, append([]string{"serve", "--dry-run"}, tc.args...)...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, output %q; want exit %d and %q", code, out, tc.code, tc.want)
			}
		})
	}
}

// TestDeployServeConfigs: every serve configuration file shipped under
// deploy/ (the systemd example) names only serve's flags, with values
// they accept.
func TestDeployServeConfigs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "deploy", "*", "serve.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no deploy/*/serve.yml: %v", err)
	}
	for _, f := range files {
		cmd := newServeCmd()
		if err := flagconfig.FromFile(cmd.Flags(), f, "config"); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	// And the serve.yml the Helm chart renders for each example.
	helm, err := exec.LookPath("helm")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("helm not found under CI=true (.ci/run installs it)")
		}
		t.Skip("helm not installed: the chart's serve.yml files are not checked")
	}
	examples, _ := filepath.Glob(filepath.Join("..", "..", "deploy", "helm", "examples", "*.yaml"))
	n, jobs := 0, 0
	for _, ex := range examples {
		out, err := exec.Command(helm, "template", "reg", filepath.Join("..", "..", "deploy", "helm", "pkgstore"), "-f", ex).Output()
		if err != nil {
			t.Fatalf("helm template %s: %v", ex, err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(out))
		for {
			var doc struct {
				Kind string            `yaml:"kind"`
				Data map[string]string `yaml:"data"`
				Spec struct {
					JobTemplate struct {
						Spec struct {
							Template struct {
								Spec struct {
									Containers []struct {
										Args []string `yaml:"args"`
									} `yaml:"containers"`
								} `yaml:"spec"`
							} `yaml:"template"`
						} `yaml:"spec"`
					} `yaml:"jobTemplate"`
				} `yaml:"spec"`
			}
			if err := dec.Decode(&doc); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				t.Fatalf("%s: %v", ex, err)
			}
			if doc.Kind == "CronJob" {
				// The job's command line parses with the job's own flags
				// (the image's entrypoint takes "pkgstore" first).
				args := doc.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args
				if len(args) < 3 || args[0] != "pkgstore" {
					t.Fatalf("%s: CronJob args %q", ex, args)
				}
				cmd, rest, err := newRootCmd().Find(args[1:])
				if err != nil || cmd.Name() != args[2] {
					t.Errorf("%s: %q: no such command (%v)", ex, args, err)
				} else if err := cmd.ParseFlags(rest); err != nil {
					t.Errorf("%s: %q: %v", ex, args, err)
				}
				jobs++
			}
			if cfg, ok := doc.Data["serve.yml"]; ok && doc.Kind == "ConfigMap" {
				n++
				if err := flagconfig.FromYAML(newServeCmd().Flags(), []byte(cfg), "config"); err != nil {
					t.Errorf("%s: rendered serve.yml: %v\n%s", ex, err, cfg)
				}
			}
		}
	}
	if n < len(examples) || jobs != 2 {
		t.Errorf("%d serve.yml in %d examples, %d CronJobs", n, len(examples), jobs)
	}
}
