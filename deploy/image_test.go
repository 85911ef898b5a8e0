// Package deploy_test checks the deployment files: the container image
// (Dockerfile, built offline here), the Helm chart and the systemd unit.
package deploy_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// repoRoot is the module root (the tests run in deploy/).
const repoRoot = ".."

// dockerBuild is the builder stage's build command; the offline build runs
// the same (TestDockerfileIsEPRsLayout holds the Dockerfile to it).
const dockerBuild = `CGO_ENABLED=0 go build -trimpath -tags disable_grpc_modules -ldflags="-s -w" -o /out/pkgstore ./cmd/pkgstore`

// finalStage is what the Dockerfile's last stage declares.
type finalStage struct {
	From       string
	Workdir    string
	User       string
	Expose     []string
	Env        []string
	Entrypoint []string
	// Copies maps each destination to its source ("builder:/out/pkgstore"
	// for COPY --from=builder, a repository path otherwise) and owner.
	Copies []copyLine
}

type copyLine struct{ From, Src, Dst, Chown string }

// parseDockerfile reads the final stage's instructions (the subset this
// Dockerfile uses: one instruction per line or with backslash
// continuations, JSON ENTRYPOINT).
func parseDockerfile(t *testing.T, path string) finalStage {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	var cur string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "#") || l == "" && cur == "" {
			continue
		}
		if c, ok := strings.CutSuffix(l, "\\"); ok {
			cur += c + " "
			continue
		}
		lines = append(lines, cur+l)
		cur = ""
	}
	var st finalStage
	for _, l := range lines {
		instr, rest, _ := strings.Cut(l, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			st = finalStage{From: strings.Fields(rest)[0]} // a new stage starts
		case "WORKDIR":
			st.Workdir = rest
		case "USER":
			st.User = rest
		case "EXPOSE":
			st.Expose = append(st.Expose, strings.Fields(rest)...)
		case "ENV":
			st.Env = append(st.Env, rest)
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(rest), &st.Entrypoint); err != nil {
				t.Fatalf("ENTRYPOINT %q: want the JSON form: %v", rest, err)
			}
		case "COPY":
			var c copyLine
			f := strings.Fields(rest)
			for len(f) > 0 && strings.HasPrefix(f[0], "--") {
				if v, ok := strings.CutPrefix(f[0], "--from="); ok {
					c.From = v
				} else if v, ok := strings.CutPrefix(f[0], "--chown="); ok {
					c.Chown = v
				}
				f = f[1:]
			}
			if len(f) < 2 {
				t.Fatalf("COPY %q: want sources and a destination", rest)
			}
			c.Src, c.Dst = strings.Join(f[:len(f)-1], " "), f[len(f)-1]
			st.Copies = append(st.Copies, c)
		}
	}
	return st
}

// TestDockerfileIsEPRsLayout: the final stage has EPR's image layout.
func TestDockerfileIsEPRsLayout(t *testing.T) {
	st := parseDockerfile(t, filepath.Join(repoRoot, "Dockerfile"))
	check := func(what string, got, want any) {
		t.Helper()
		if g, w := jsonString(got), jsonString(want); g != w {
			t.Errorf("%s = %s, want %s", what, g, w)
		}
	}
	check("FROM", st.From, "scratch")
	if data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile")); err != nil || !strings.Contains(string(data), "RUN "+dockerBuild+" ") {
		t.Errorf("the builder stage does not run %s (the offline build's command)", dockerBuild)
	}
	check("WORKDIR", st.Workdir, "/package-registry")
	check("USER", st.User, "1000:1000")
	check("EXPOSE", st.Expose, []string{"8080"})
	check("ENV", st.Env, []string{"EPR_ADDRESS=0.0.0.0:8080"})
	check("ENTRYPOINT", st.Entrypoint, []string{"./package-registry"})
	dsts := map[string]copyLine{}
	for _, c := range st.Copies {
		dsts[c.Dst] = c
	}
	for _, d := range []string{"/package-registry/package-registry", "/package-registry/config.yml", "/packages/package-registry", "/etc/passwd"} {
		if _, ok := dsts[d]; !ok {
			t.Errorf("the image lacks %s", d)
		}
	}
	if c := dsts["/package-registry/config.yml"]; c.From == "" {
		if _, err := os.Stat(filepath.Join(repoRoot, c.Src)); err != nil {
			t.Errorf("config.yml source: %v", err)
		}
	}
}

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }

// tarEntry is one file of the image's layer.
type tarEntry struct {
	name     string
	mode     int64
	uid, gid int
	data     []byte
	dir      bool
}

// buildImage builds the Dockerfile's final stage without Docker: a static
// binary built here (CGO_ENABLED=0, as the builder stage), the files the
// builder stage writes, and the configuration the Dockerfile declares, in
// an OCI layout under dir. No base image is downloaded (FROM scratch).
func buildImage(t *testing.T, st finalStage, dir string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pkgstore")
	// A static build shares little with the test's own (cgo) build: on a
	// cold cache it compiles every dependency again.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", "disable_grpc_modules", "-ldflags=-s -w", "-o", bin, "./cmd/pkgstore")
	build.Dir = repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	binData, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	// What the builder stage produces, by its paths.
	builder := map[string]tarEntry{
		"/out/pkgstore": {mode: 0o755, data: binData},
		"/out/passwd":   {mode: 0o644, data: []byte("package-registry:x:1000:1000:package-registry:/package-registry:/sbin/nologin\n")},
		"/out/group":    {mode: 0o644, data: []byte("package-registry:x:1000:\n")},
		"/out/packages": {mode: 0o755, dir: true},
	}
	if ca, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		builder["/etc/ssl/certs/ca-certificates.crt"] = tarEntry{mode: 0o644, data: ca}
	} else {
		// The golang image has them; a machine without them gets an
		// empty bundle in its test image (the path is still checked).
		builder["/etc/ssl/certs/ca-certificates.crt"] = tarEntry{mode: 0o644}
	}
	var entries []tarEntry
	dirs := map[string]bool{}
	addDirs := func(p string) {
		var parents []string
		for d := filepath.Dir(p); d != "/" && !dirs[d]; d = filepath.Dir(d) {
			parents = append([]string{d}, parents...)
		}
		for _, d := range parents {
			dirs[d] = true
			entries = append(entries, tarEntry{name: strings.TrimPrefix(d, "/"), mode: 0o755, dir: true})
		}
	}
	for _, c := range st.Copies {
		var e tarEntry
		if c.From == "builder" {
			var ok bool
			if e, ok = builder[c.Src]; !ok {
				t.Fatalf("COPY --from=builder %s: the offline build does not know this file", c.Src)
			}
		} else {
			data, err := os.ReadFile(filepath.Join(repoRoot, c.Src))
			if err != nil {
				t.Fatal(err)
			}
			e = tarEntry{mode: 0o644, data: data}
		}
		if c.Chown == "1000:1000" {
			e.uid, e.gid = 1000, 1000
		} else if c.Chown != "" {
			t.Fatalf("COPY --chown=%s: the offline build knows 1000:1000 only", c.Chown)
		}
		addDirs(c.Dst)
		e.name = strings.TrimPrefix(c.Dst, "/")
		if e.dir {
			dirs[c.Dst] = true
		}
		entries = append(entries, e)
	}
	if !dirs[st.Workdir] {
		addDirs(st.Workdir + "/x")
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: epoch, Typeflag: tar.TypeReg, Size: int64(len(e.data))}
		if e.dir {
			h.Typeflag, h.Name, h.Size = tar.TypeDir, e.name+"/", 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layerBytes := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerBytes)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.WorkingDir = st.Workdir
	cf.Config.User = st.User
	cf.Config.Entrypoint = st.Entrypoint
	cf.Config.Env = st.Env
	cf.Config.ExposedPorts = map[string]struct{}{}
	for _, p := range st.Expose {
		if !strings.Contains(p, "/") {
			p += "/tcp"
		}
		cf.Config.ExposedPorts[p] = struct{}{}
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
}

// TestImageBuiltOffline builds the image into an OCI layout, reads it
// back as a registry client would, and checks its configuration and
// files; the binary taken out of the layer runs -version.
func TestImageBuiltOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a static binary")
	}
	st := parseDockerfile(t, filepath.Join(repoRoot, "Dockerfile"))
	dir := filepath.Join(t.TempDir(), "oci")
	buildImage(t, st, dir)

	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	man, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(man.Manifests) != 1 {
		t.Fatalf("index has %d manifests", len(man.Manifests))
	}
	img, err := idx.Image(man.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	want := v1.Config{
		User: "1000:1000", WorkingDir: "/package-registry", Entrypoint: []string{"./package-registry"},
		Env: []string{"EPR_ADDRESS=0.0.0.0:8080"}, ExposedPorts: map[string]struct{}{"8080/tcp": {}},
	}
	if g, w := jsonString(cf.Config), jsonString(want); g != w {
		t.Errorf("image config %s, want %s", g, w)
	}
	if cf.OS != "linux" {
		t.Errorf("os %q", cf.OS)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]*tar.Header{}
	out := t.TempDir()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimSuffix(h.Name, "/")] = h
		if h.Name == "package-registry/package-registry" {
			f, err := os.OpenFile(filepath.Join(out, "package-registry"), os.O_CREATE|os.O_WRONLY, 0o755)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
	for _, f := range []struct {
		name     string
		dir      bool
		uid      int
		mode     int64
		contains string
	}{
		{name: "package-registry/package-registry", uid: 1000, mode: 0o755},
		{name: "package-registry/config.yml", mode: 0o644, contains: "- /packages/package-registry"},
		{name: "packages/package-registry", dir: true, uid: 1000, mode: 0o755},
		{name: "etc/passwd", mode: 0o644},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644},
	} {
		h, ok := files[f.name]
		if !ok {
			t.Errorf("%s missing from the layer", f.name)
			continue
		}
		if (h.Typeflag == tar.TypeDir) != f.dir || h.Uid != f.uid || h.Mode&0o7777 != f.mode {
			t.Errorf("%s: type %c uid %d mode %o; want dir=%v uid %d mode %o", f.name, h.Typeflag, h.Uid, h.Mode, f.dir, f.uid, f.mode)
		}
	}
	// The static binary runs anywhere, under its image name: EPR's -version.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(out, "package-registry"), "-version")
	cmd.Env = []string{} // nothing from this machine
	got, err := cmd.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(got), "Elastic Package Registry version 1.40.1 (pkgstore ") {
		t.Errorf("-version: %v %q", err, got)
	}
	// And it is static: no interpreter.
	if data, err := os.ReadFile(filepath.Join(out, "package-registry")); err == nil && bytes.Contains(data[:min(len(data), 4096)], []byte("/lib64/ld-linux")) {
		t.Error("the binary is dynamically linked")
	}
}
