package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"pkgstore/internal/testkit/treetest"
	"strings"
	"testing"
)

var validatePkgFiles = map[string]string{
	"manifest.yml": `format_version: 3.6.0
name: sample
title: Sample
description: A sample package
version: 1.0.0
type: input
owner:
  github: elastic/integrations
  type: elastic
conditions:
  kibana:
    version: "^8.13.0"
policy_templates:
  - name: sample
    type: logs
    title: Sample
    description: Sample logs
    input: logfile
    template_path: input.yml.hbs
`,
	"changelog.yml": `- version: 1.0.0
  changes:
    - description: First release
      type: enhancement
      link: https://github.com/elastic/integrations/pull/1
`,
	"docs/README.md":            "# Sample\n",
	"agent/input/input.yml.hbs": "paths: []\n",
}

func writeValidatePkg(t *testing.T, dir string, over map[string]string) {
	t.Helper()
	files := make(map[string]string, len(validatePkgFiles))
	for name, data := range validatePkgFiles {
		if v, ok := over[name]; ok {
			data = v
		}
		files[name] = data
	}
	treetest.Write(t, dir, files)
}

func writeValidateZip(t *testing.T, path string, roots ...string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, root := range roots {
		for name, data := range validatePkgFiles {
			w, err := zw.Create(root + "/" + name)
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte(data))
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func runValidate(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := newValidateCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	if err == nil {
		return out.String(), 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return out.String(), ee.Code
	}
	return out.String() + err.Error(), 2
}

func TestValidateCommand(t *testing.T) {
	tmp := t.TempDir()
	good := filepath.Join(tmp, "good")
	writeValidatePkg(t, good, nil)
	bad := filepath.Join(tmp, "bad")
	writeValidatePkg(t, bad, map[string]string{"manifest.yml": strings.Replace(validatePkgFiles["manifest.yml"], "type: elastic", "type: nobody", 1)})
	goodZip := filepath.Join(tmp, "sample-1.0.0.zip")
	writeValidateZip(t, goodZip, "sample-1.0.0")
	twoRoots := filepath.Join(tmp, "two.zip")
	writeValidateZip(t, twoRoots, "a", "b")

	cases := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"valid folder", []string{good}, 0, good + ": valid"},
		{"invalid folder", []string{good, bad}, 1, `field owner.type: owner.type must be one of the following`},
		{"valid zip", []string{goodZip}, 0, ": valid"},
		{"zip with two roots", []string{twoRoots}, 2, ""},
		{"missing path", []string{filepath.Join(tmp, "nope")}, 2, ""},
		{"bad format", []string{"--format", "xml", good}, 2, ""},
		{"bad mode", []string{"--mode", "strict", good}, 2, ""},
		{"zip in source mode", []string{"--mode", "source", goodZip}, 2, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runValidate(t, tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit code %d, want %d; output:\n%s", code, tc.wantCode, out)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Fatalf("output lacks %q:\n%s", tc.wantOut, out)
			}
		})
	}
}

func TestValidateCommandJSON(t *testing.T) {
	tmp := t.TempDir()
	bad := filepath.Join(tmp, "bad")
	writeValidatePkg(t, bad, map[string]string{"changelog.yml": "- version: 0.9.0\n  changes: []\n"})
	out, code := runValidate(t, "--format", "json", bad)
	if code != 1 {
		t.Fatalf("exit code %d, want 1; output:\n%s", code, out)
	}
	var res []validateResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if len(res) != 1 || res[0].Valid || len(res[0].Problems) == 0 || len(res[0].Lines) != len(res[0].Problems) {
		t.Fatalf("unexpected result: %+v", res)
	}
	if !strings.Contains(strings.Join(res[0].Lines, "\n"), "current manifest version doesn't have changelog entry") {
		t.Fatalf("missing changelog problem: %v", res[0].Lines)
	}
}
