package main

import (
	"path/filepath"
	"pkgstore/internal/testkit/treetest"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/testkit/servertest"
)

func v1Tree(t *testing.T, files map[string]string) string {
	t.Helper()
	src := t.TempDir()
	treetest.Write(t, filepath.Join(src, "packages"), files)
	return src
}

func v1Manifest(name, version string) string {
	return "format_version: 1.0.0\nname: " + name + "\ntitle: " + name + "\nversion: " + version +
		"\ndescription: test\ntype: integration\nowner:\n  github: elastic/test\n"
}

func TestSyncV1Command(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Memory: true})
	good := v1Tree(t, map[string]string{
		"alpha/1.0.0/manifest.yml":   v1Manifest("alpha", "1.0.0"),
		"alpha/1.0.0/docs/README.md": "# alpha\n",
		"beta/0.1.0/manifest.yml":    v1Manifest("beta", "0.1.0"),
		"beta/0.1.0/docs/README.md":  "# beta\n",
	})
	broken := v1Tree(t, map[string]string{
		"gamma/1.0.0/manifest.yml":   v1Manifest("gamma", "1.0.0"),
		"gamma/1.0.0/docs/README.md": "# gamma\n",
		"gamma/2.0.0/manifest.yml":   v1Manifest("gamma", "2.0.1"),
	})
	key := s.Key.PrivatePath

	tests := []struct {
		name     string
		args     []string
		env      string // PKGSTORE_PUBLISH_TOKEN
		code     int
		mentions []string
	}{
		{"dry run", []string{good, "--registry", s.URL, "--token", servertest.Token, "--sign-key", key, "--dry-run"}, "", 0,
			[]string{"] passed    alpha-1.0.0", "would publish:   2"}},
		{"publishes, token from the environment", []string{good, "--registry", s.URL, "--sign-key", key}, servertest.Token, 0,
			[]string{"sync-v1: 2 revisions", "] published beta-0.1.0", "published:       2", "failed:          0"}},
		{"rerun publishes nothing", []string{good, "--registry", s.URL, "--token", servertest.Token, "--sign-key", key, "--workers", "1"}, "", 0,
			[]string{"present   alpha-1.0.0", "published:       0", "already present: 2"}},
		{"broken revision fails the run but not the others", []string{broken, "--registry", s.URL, "--token", servertest.Token, "--sign-key", key}, "", 1,
			[]string{"published:       1", "failed:          1", "packages/gamma/2.0.0:", "manifest.yml names gamma-2.0.1", "1 revision(s) failed"}},
		{"unsigned", []string{good, "--registry", s.URL, "--token", servertest.Token}, "", 0,
			[]string{"warning: no --sign-key", "already present: 2"}},
		{"wrong token stops", []string{v1Tree(t, map[string]string{"delta/1.0.0/manifest.yml": v1Manifest("delta", "1.0.0")}), "--registry", s.URL, "--token", "nope", "--sign-key", key}, "", 4,
			[]string{"stopped", "not valid"}},
		{"no token", []string{good, "--registry", s.URL}, "", 2, []string{"PKGSTORE_PUBLISH_TOKEN"}},
		{"no registry", []string{good, "--token", "x"}, "", 2, []string{"--registry"}},
		{"bad registry URL", []string{good, "--token", "x", "--registry", "ftp://x"}, "", 2, []string{"http"}},
		{"not a v1 checkout", []string{t.TempDir(), "--registry", s.URL, "--token", servertest.Token}, "", 1, []string{"not a v1 checkout"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PKGSTORE_PUBLISH_TOKEN", tc.env)
			out, errOut, code := runCLI(t, append([]string{"sync-v1"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out, errOut)
			}
			for _, m := range tc.mentions {
				if !strings.Contains(out+errOut, m) {
					t.Errorf("output lacks %q:\n%s%s", m, out, errOut)
				}
			}
		})
		if tc.name == "publishes, token from the environment" {
			waitIndexed(t, s, "alpha", "1.0.0", "beta", "0.1.0")
		}
	}
}

// waitIndexed waits until the HEAD probe sees the given name/version pairs
// (the registry answers from its index, which follows publications).
func waitIndexed(t *testing.T, s *servertest.Store, nameVersions ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; i < len(nameVersions); i += 2 {
		for {
			code, _ := s.Get(t, "/epr/"+nameVersions[i]+"/"+nameVersions[i]+"-"+nameVersions[i+1]+".zip")
			if code == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s-%s not served after 30s", nameVersions[i], nameVersions[i+1])
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
