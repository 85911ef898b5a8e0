package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pkgstore/internal/builder/ecs"
	"pkgstore/internal/testkit/elasticpackagetest"
)

// parityPackage copies the builder's fixture package ecs_parity (ECS
// v8.11.0 fields: an object with object_type, fields in README tables, a
// transform's) into a temporary folder.
func parityPackage(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ecs_parity")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "internal", "builder", "testdata", "differential", "ecs_parity"))); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBuildECSBaseURLPrecedence: --ecs-base-url, else
// $PKGSTORE_ECS_BASE_URL, else $ELASTIC_PACKAGE_ECS_BASE_URL.
func TestBuildECSBaseURLPrecedence(t *testing.T) {
	_, ecsDir := elasticpackagetest.ServeECS(t)
	good := "file://" + filepath.ToSlash(ecsDir)
	bad := "file:///nonexistent-ecs-mirror"
	cases := []struct {
		name               string
		flag, pkgstore, ep string
		code               int
		mentions           string
	}{
		{name: "ELASTIC_PACKAGE_ECS_BASE_URL alone", ep: good, code: 0, mentions: "built"},
		{name: "PKGSTORE_ECS_BASE_URL wins over ELASTIC_PACKAGE_ECS_BASE_URL", pkgstore: bad, ep: good, code: 1, mentions: "nonexistent-ecs-mirror"},
		{name: "PKGSTORE_ECS_BASE_URL alone", pkgstore: good, code: 0, mentions: "built"},
		{name: "the flag wins over both", flag: good, pkgstore: bad, ep: bad, code: 0, mentions: "built"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("XDG_CACHE_HOME", t.TempDir())
			t.Setenv(ecs.BaseURLEnv, tc.pkgstore)
			t.Setenv(ecs.ElasticPackageBaseURLEnv, tc.ep)
			args := []string{"build", parityPackage(t), "-o", t.TempDir()}
			if tc.flag != "" {
				args = append(args, "--ecs-base-url", tc.flag)
			}
			stdout, stderr, code := runCLI(t, args...)
			if code != tc.code || !strings.Contains(stdout+stderr, tc.mentions) {
				t.Fatalf("exit %d, want %d mentioning %q:\n%s%s", code, tc.code, tc.mentions, stdout, stderr)
			}
		})
	}
}

// TestBuildOfflineHint: a build whose ECS schema server cannot be reached
// says so and hints --ecs-base-url with a file:// mirror.
func TestBuildOfflineHint(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv(ecs.BaseURLEnv, "")
	t.Setenv(ecs.ElasticPackageBaseURLEnv, "")
	_, stderr, code := runCLI(t, "build", parityPackage(t), "-o", t.TempDir(), "--ecs-base-url", "http://127.0.0.1:1")
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, stderr)
	}
	for _, want := range []string{"cannot download ECS schema v8.11.0", "127.0.0.1 refused the connection", "--ecs-base-url file:///"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
}

// TestBuildWithoutDir: build without DIR builds the package holding the
// current folder (from one of its data streams too) into build/packages at
// the repository root; outside a package it is a usage error.
func TestBuildWithoutDir(t *testing.T) {
	repo := t.TempDir()
	elasticpackagetest.GitInit(t, repo)
	pkg := filepath.Join(repo, "packages", "hello")
	if err := os.CopyFS(pkg, os.DirFS(filepath.Join("..", "..", "examples", "hello"))); err != nil {
		t.Fatal(err)
	}
	id, err := os.ReadFile(filepath.Join(pkg, "manifest.yml"))
	if err != nil {
		t.Fatal(err)
	}
	version := ""
	for _, l := range strings.Split(string(id), "\n") {
		if v, ok := strings.CutPrefix(l, "version: "); ok {
			version = strings.Trim(v, `"`)
		}
	}
	zip := filepath.Join(repo, "build", "packages", "hello-"+version+".zip")

	t.Chdir(filepath.Join(pkg, "data_stream", "log"))
	stdout, stderr, code := runCLI(t, "build")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(zip); err != nil || !strings.Contains(stdout, zip) {
		t.Fatalf("zip %s: %v; stdout %q", zip, err, stdout)
	}
	if _, err := os.Stat(filepath.Join(pkg, "data_stream", "log", "build")); err == nil {
		t.Error("a build folder was made in the current folder")
	}

	// -o still decides where the zip goes.
	out := t.TempDir()
	if _, stderr, code := runCLI(t, "build", "-o", out); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "hello-"+version+".zip")); err != nil {
		t.Fatal(err)
	}

	t.Chdir(repo)
	_, stderr, code = runCLI(t, "build")
	if code != 2 || !strings.Contains(stderr, "package root not found") {
		t.Fatalf("outside a package: exit %d, want 2 naming the problem: %s", code, stderr)
	}
}
