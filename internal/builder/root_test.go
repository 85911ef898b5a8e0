package builder

import (
	"errors"
	"path/filepath"
	"testing"

	"pkgstore/internal/testkit/treetest"
)

func TestFindPackageRoot(t *testing.T) {
	dir := t.TempDir()
	treetest.Write(t, dir, map[string]string{
		"pkgs/nginx/manifest.yml":                            "format_version: 3.0.0\nname: nginx\nversion: 1.0.0\ntype: integration\n",
		"pkgs/nginx/data_stream/access/manifest.yml":         "title: Access\ntype: logs\n",
		"pkgs/nginx/data_stream/access/fields/base.yml":      "- name: a\n  type: keyword\n",
		"pkgs/sql/manifest.yml":                              "name: sql\nversion: 0.1.0\ntype: input\n",
		"pkgs/sql/agent/input/input.yml.hbs":                 "x\n",
		"pkgs/noversion/manifest.yml":                        "name: nov\ntype: integration\n",
		"pkgs/noversion/docs/README.md":                      "x\n",
		"pkgs/nginx/_dev/deploy/docker/broken/manifest.yml":  "{ not yaml",
		"pkgs/nginx/_dev/deploy/docker/broken/x/placeholder": "",
	})
	cases := []struct {
		name, from, want string // want "" means ErrNoPackageRoot
	}{
		{"the package folder", "pkgs/nginx", "pkgs/nginx"},
		{"a data stream: its manifest is not a package's", "pkgs/nginx/data_stream/access/fields", "pkgs/nginx"},
		{"an input package", "pkgs/sql/agent/input", "pkgs/sql"},
		{"an unreadable manifest below is passed over", "pkgs/nginx/_dev/deploy/docker/broken/x", "pkgs/nginx"},
		{"a manifest without version is not a package", "pkgs/noversion/docs", ""},
		{"outside any package", "pkgs", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FindPackageRoot(filepath.Join(dir, filepath.FromSlash(tc.from)))
			if tc.want == "" {
				if !errors.Is(err, ErrNoPackageRoot) {
					t.Fatalf("FindPackageRoot = %q, %v; want ErrNoPackageRoot", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(dir, filepath.FromSlash(tc.want)); got != want {
				t.Errorf("FindPackageRoot = %s, want %s", got, want)
			}
		})
	}
}
