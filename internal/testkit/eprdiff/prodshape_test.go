package eprdiff_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"

	"pkgstore/internal/pkg/packagedoc"
	"pkgstore/internal/testkit/eprdiff"
	"pkgstore/internal/testkit/sharedtest"
)

// TestWriteProdShape grows three of the v1 sample's packages (24 zips,
// every count and size at a tenth of production's)
// and checks what the generator promises: the same seed writes the same
// bytes; every zip opens and loads as a package
// document listing every file; every added screenshot is a PNG of the size
// its manifest declares, and every declared one is in the zip; the rules
// package climbs from 50 rules in its lowest version to 320 in its
// highest (500 to 3,200 at full scale); every shape was given to some package.
func TestWriteProdShape(t *testing.T) {
	t.Parallel()
	sample := eprdiff.BuildV1Folders(t, filepath.Join(sharedtest.UnpackV1(t), "packages"), "kubernetes", "nginx", "winlog")
	const n = 24
	dirA, dirB := t.TempDir(), t.TempDir()
	c, st := eprdiff.WriteProdShape(t, dirA, sample, n, eprdiff.ProdShapeOptions{Seed: 7, Scale: 0.1}, nil)
	_, stB := eprdiff.WriteProdShape(t, dirB, sample, n, eprdiff.ProdShapeOptions{Seed: 7, Scale: 0.1}, nil)
	t.Logf("seed 7: %v", st)
	if len(c.Packages) != n || st.Revisions != n {
		t.Fatalf("%d packages, stats %d, want %d", len(c.Packages), st.Revisions, n)
	}
	if st.String() != stB.String() {
		t.Errorf("same seed, other stats:\n%v\n%v", st, stB)
	}
	for _, k := range []string{"rules", "dashboards", "ml", "fields", "datastreams", "screenshots"} {
		if len(st.Shapes[k]) == 0 {
			t.Errorf("no package has the %s shape", k)
		}
	}
	rules := map[string]int{} // version -> rules, of the rules package
	for _, pk := range c.Packages {
		if pk.Zip != nil {
			t.Fatalf("%s: the corpus holds the zip's bytes", pk.ID)
		}
		data, err := os.ReadFile(filepath.Join(dirA, pk.ID.ZipName()))
		if err != nil {
			t.Fatal(err)
		}
		if other, err := os.ReadFile(filepath.Join(dirB, pk.ID.ZipName())); err != nil || !bytes.Equal(data, other) {
			t.Errorf("%s: seed 7 wrote other bytes the second time (%v)", pk.ID, err)
		}
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("%s: %v", pk.ID, err)
		}
		root := pk.ID.String()
		var files []string
		for _, f := range zr.File {
			if !strings.HasSuffix(f.Name, "/") {
				files = append(files, strings.TrimPrefix(f.Name, root+"/"))
			}
		}
		sort.Strings(files)
		if fmt.Sprint(files) != fmt.Sprint(pk.Files) {
			t.Fatalf("%s: Files lists %d files, the zip has %d", pk.ID, len(pk.Files), len(files))
		}
		sub, err := fs.Sub(zr, root)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := packagedoc.Build(sub, packagedoc.Options{})
		if err != nil {
			t.Fatalf("%s: %v", pk.ID, err)
		}
		if doc.Version != pk.ID.Version || len(doc.Assets) != len(files) {
			t.Errorf("%s: document of version %s with %d assets, want %d", pk.ID, doc.Version, len(doc.Assets), len(files))
		}
		declared := map[string]bool{}
		for _, s := range doc.Screenshots {
			declared[strings.TrimPrefix(s.Src, "/")] = true
			if !strings.Contains(s.Src, "-screenshot-") {
				continue
			}
			f, err := sub.Open(strings.TrimPrefix(s.Src, "/"))
			if err != nil {
				t.Errorf("%s: declared screenshot %s: %v", pk.ID, s.Src, err)
				continue
			}
			cfg, err := png.DecodeConfig(f)
			f.Close()
			if err != nil || fmt.Sprintf("%dx%d", cfg.Width, cfg.Height) != s.Size {
				t.Errorf("%s: %s is %dx%d (%v), the manifest says %s", pk.ID, s.Src, cfg.Width, cfg.Height, err, s.Size)
			}
		}
		n := 0
		for _, f := range files {
			if strings.Contains(f, "-screenshot-") && !declared[f] {
				t.Errorf("%s: %s is not declared in the manifest", pk.ID, f)
			}
			if strings.HasPrefix(f, "kibana/security_rule/") {
				n++
			}
		}
		if pk.ID.Name == st.Shapes["rules"][0] {
			rules[pk.ID.Version] = n
		}
	}
	var versions []*semver.Version
	for v := range rules {
		versions = append(versions, semver.MustParse(v))
	}
	sort.Sort(semver.Collection(versions))
	for i := 1; i < len(versions); i++ {
		if rules[versions[i].Original()] < rules[versions[i-1].Original()] {
			t.Errorf("rules: %s has %d, the lower %s %d", versions[i], rules[versions[i].Original()], versions[i-1], rules[versions[i-1].Original()])
		}
	}
	if len(versions) < 2 {
		t.Fatalf("rules package %s: %d versions", st.Shapes["rules"][0], len(versions))
	}
	if rules[versions[0].Original()] != 50 || rules[versions[len(versions)-1].Original()] != 320 {
		t.Errorf("rules package: %d versions, from %d to %d rules, want 50 to 320", len(versions), rules[versions[0].Original()], rules[versions[len(versions)-1].Original()])
	}
}
