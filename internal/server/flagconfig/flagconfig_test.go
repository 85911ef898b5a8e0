package flagconfig

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

type settings struct {
	addr     string
	workers  int
	ro       bool
	keyrings []string
	watch    time.Duration
	config   string
}

func newFlags() (*pflag.FlagSet, *settings) {
	s := &settings{}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.StringVar(&s.addr, "addr", "localhost:8080", "")
	fs.IntVar(&s.workers, "workers", 0, "")
	fs.BoolVar(&s.ro, "read-only", false, "")
	fs.StringArrayVar(&s.keyrings, "keyring", []string{"default.asc"}, "")
	fs.DurationVar(&s.watch, "watch-interval", time.Second, "")
	fs.StringVar(&s.config, "config", "", "")
	return fs, s
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestEnvName(t *testing.T) {
	for flag, want := range map[string]string{"addr": "PKGSTORE_ADDR", "tls-min-version": "PKGSTORE_TLS_MIN_VERSION", "read-only": "PKGSTORE_READ_ONLY"} {
		if got := EnvName("PKGSTORE_", flag); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", flag, got, want)
		}
	}
}

// TestPrecedence: the command line beats the environment, which beats the
// file, which beats the default; each flag independently.
func TestPrecedence(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		file string
		want settings
	}{
		{"defaults", nil, nil, "", settings{addr: "localhost:8080", keyrings: []string{"default.asc"}, watch: time.Second}},
		{"file only", nil, nil, "addr: 0.0.0.0:9000\nworkers: 3\nread-only: true\nkeyring: [a.asc, b.asc]\nwatch-interval: 5s\n",
			settings{addr: "0.0.0.0:9000", workers: 3, ro: true, keyrings: []string{"a.asc", "b.asc"}, watch: 5 * time.Second}},
		{"env beats file", nil, map[string]string{"PKGSTORE_ADDR": "127.0.0.1:1", "PKGSTORE_KEYRING": "x.asc,y.asc"}, "addr: 0.0.0.0:9000\nkeyring: z.asc\nworkers: 2\n",
			settings{addr: "127.0.0.1:1", workers: 2, keyrings: []string{"x.asc", "y.asc"}, watch: time.Second}},
		{"flag beats env and file", []string{"--addr", "127.0.0.1:2", "--keyring", "f.asc"}, map[string]string{"PKGSTORE_ADDR": "127.0.0.1:1", "PKGSTORE_KEYRING": "x.asc", "PKGSTORE_WORKERS": "7"}, "addr: 0.0.0.0:9000\nkeyring: z.asc\nworkers: 2\n",
			settings{addr: "127.0.0.1:2", workers: 7, keyrings: []string{"f.asc"}, watch: time.Second}},
		{"empty env is unset", nil, map[string]string{"PKGSTORE_ADDR": ""}, "addr: 0.0.0.0:9000\n",
			settings{addr: "0.0.0.0:9000", keyrings: []string{"default.asc"}, watch: time.Second}},
		{"a single scalar for a list", nil, nil, "keyring: one.asc\n", settings{addr: "localhost:8080", keyrings: []string{"one.asc"}, watch: time.Second}},
		{"empty file", nil, nil, "# nothing\n", settings{addr: "localhost:8080", keyrings: []string{"default.asc"}, watch: time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, s := newFlags()
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if err := FromEnv(fs, "PKGSTORE_", env(tc.env)); err != nil {
				t.Fatal(err)
			}
			if err := FromYAML(fs, []byte(tc.file), "config"); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*s, tc.want) {
				t.Errorf("got %+v, want %+v", *s, tc.want)
			}
		})
	}
}

func TestFileErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       []string
		unknown    bool
	}{
		{"unknown key", "addr: x\nwokers: 3\n", []string{`line 2`, `unknown key "wokers"`, `did you mean "workers"`}, true},
		{"underscores", "read_only: true\n", []string{`unknown key "read_only"`, `did you mean "read-only"`}, true},
		{"the file names another", "config: other.yml\n", []string{`unknown key "config"`, "cannot name another"}, true},
		{"help is no setting", "help: true\n", []string{`unknown key "help"`}, true},
		{"bad value", "workers: many\n", []string{`key "workers"`, `"many"`}, false},
		{"bad duration", "watch-interval: 10\n", []string{`key "watch-interval"`, "missing unit"}, false},
		{"list for a scalar", "addr: [a, b]\n", []string{`key "addr"`, "takes one value"}, false},
		{"nested", "addr:\n  host: x\n", []string{`key "addr"`, "scalar"}, false},
		{"null", "addr:\n", []string{`key "addr"`, "no value"}, false},
		{"twice", "addr: a\naddr: b\n", []string{`"addr" given twice`}, false},
		{"not a mapping", "- addr\n", []string{"mapping"}, false},
		{"two documents", "addr: a\n---\naddr: b\n", []string{"more than one"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, _ := newFlags()
			err := FromYAML(fs, []byte(tc.file), "config")
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if errors.Is(err, ErrUnknownKey) != tc.unknown {
				t.Errorf("errors.Is(ErrUnknownKey) = %v, want %v", !tc.unknown, tc.unknown)
			}
		})
	}
}

func TestEnvErrorNamesTheVariable(t *testing.T) {
	fs, _ := newFlags()
	err := FromEnv(fs, "PKGSTORE_", env(map[string]string{"PKGSTORE_WORKERS": "lots", "PKGSTORE_READ_ONLY": "maybe"}))
	if err == nil || !strings.Contains(err.Error(), "PKGSTORE_WORKERS") || !strings.Contains(err.Error(), "PKGSTORE_READ_ONLY") {
		t.Fatalf("error %v does not name both variables", err)
	}
}

func TestFromFileBounds(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yml")
	if err := os.WriteFile(big, []byte("addr: x\n"+strings.Repeat("# padding\n", MaxFileSize/10+1)), 0o644); err != nil {
		t.Fatal(err)
	}
	fs, _ := newFlags()
	if err := FromFile(fs, big, "config"); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized file: %v", err)
	}
	if err := FromFile(fs, filepath.Join(dir, "missing.yml"), "config"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	// A billion-laughs file is refused, not expanded.
	bomb := "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nkeyring: *c\n"
	if err := FromYAML(fs, []byte(bomb), "config"); err == nil {
		t.Error("alias bomb accepted")
	}
}
