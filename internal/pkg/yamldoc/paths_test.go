package yamldoc_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"pkgstore/internal/pkg/archive"
	"pkgstore/internal/pkg/packagedoc"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/validate"
	"pkgstore/internal/pkg/yamldoc"
	"pkgstore/internal/testkit/ziptest"
)

const icon = "icons:\n  - &icon\n    src: /img/icon.svg\n    title: icon\n    size: 32x32\n    type: image/svg+xml\n"

// withIcon swaps the test manifest's icons for an anchored one and adds
// extra after it.
func withIcon(extra string) func(string) string {
	return func(m string) string {
		i := strings.Index(m, "icons:\n")
		return m[:i] + icon + extra
	}
}

// TestMergeKeysOnEveryPath: a manifest using merge keys (<<) reads the
// same on every path that reads it: the zip's identity (archive), the
// package-spec validation and the package document EPR serves (and the
// catalog shows). Where yaml.v2 (EPR's reader) and yaml.v3 (package-spec's)
// resolve a merge differently, every path refuses it (issue 21 item 9:
// the identity check read version 1.0.0 and the document 2.0.0).
func TestMergeKeysOnEveryPath(t *testing.T) {
	ctx := context.Background()
	t.Run("agreed merges read the same everywhere", func(t *testing.T) {
		zip := ziptest.SortedPackage(t, "merged", "1.0.0", withIcon("screenshots:\n  - <<: *icon\n    title: shot\n"))
		pkg, err := archive.Open(bytes.NewReader(zip), int64(len(zip)), packageid.ID{Name: "merged", Version: "1.0.0"}, archive.DefaultLimits)
		if err != nil {
			t.Fatalf("archive: %v", err)
		}
		problems, err := validate.Package(ctx, pkg.FS, validate.Options{Mode: "build"})
		if err != nil || len(problems) > 0 {
			t.Fatalf("validate: %v %+v", err, problems)
		}
		doc, err := packagedoc.Build(pkg.FS, packagedoc.Options{})
		if err != nil {
			t.Fatalf("packagedoc: %v", err)
		}
		if len(doc.Screenshots) != 1 {
			t.Fatalf("screenshots %+v", doc.Screenshots)
		}
		s := doc.Screenshots[0]
		if s.Title != "shot" || s.Src != "/img/icon.svg" || s.Size != "32x32" {
			t.Fatalf("merged screenshot read as %+v", s)
		}
	})

	for _, tc := range []struct {
		name     string
		edit     func(string) string
		wantLine string
	}{
		{"version before a merge", func(m string) string { return m + "<<: {version: 2.0.0}\n" }, `"version" is set before a merge key`},
		{"title before a merge", withIcon("screenshots:\n  - title: shot\n    <<: *icon\n"), `"title" is set before a merge key`},
		{"two merge keys", withIcon("screenshots:\n  - <<: *icon\n    <<: {title: shot}\n"), "a second merge key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			zip := ziptest.SortedPackage(t, "merged", "1.0.0", tc.edit)
			id := packageid.ID{Name: "merged", Version: "1.0.0"}
			if _, err := archive.Open(bytes.NewReader(zip), int64(len(zip)), id, archive.DefaultLimits); err == nil || !strings.Contains(err.Error(), tc.wantLine) {
				t.Errorf("archive: %v, want a refusal saying %q", err, tc.wantLine)
			}
			// The job reaches the others only past archive: give them
			// the files directly, each must refuse on its own.
			fsys := zipFS(t, zip, id.String()+"/")
			problems, err := validate.Package(ctx, fsys, validate.Options{Mode: "build"})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, p := range problems {
				found = found || strings.Contains(p.Message, tc.wantLine)
			}
			if !found {
				t.Errorf("validate: %+v, want a problem saying %q", problems, tc.wantLine)
			}
			if _, err := packagedoc.Build(fsys, packagedoc.Options{}); !errors.Is(err, yamldoc.ErrAmbiguousMerge) {
				t.Errorf("packagedoc: %v, want ErrAmbiguousMerge", err)
			}
		})
	}
}

func zipFS(t *testing.T, b []byte, root string) fstest.MapFS {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	out := fstest.MapFS{}
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") {
			continue
		}
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(f.Name, root)] = &fstest.MapFile{Data: data}
	}
	return out
}

// TestParse: the shapes yaml.v2 and yaml.v3 read alike are kept, the
// others refused with the line; alias-heavy documents are checked in
// bounded work.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		doc     string
		refused bool
	}{
		{"a: &x {b: 1}\n<<: *x\nb: 2\n", false},
		{"a: &x {b: 1}\nc: &y {b: 2}\n<<: [*x, *y]\n", false},
		{"'<<': {b: 1}\nb: 2\n", false}, // a quoted << is a plain key
		{"<<: {b: 1}\n", false},
		{"b: 2\n<<: {b: 1}\n", true},
		{"a: &x {b: 1}\nb: 2\n<<: *x\n", true},
		{"a: &x {<<: {b: 1}}\nb: 2\n<<: *x\n", true}, // b comes through a nested merge
		{"a: &x {b: 1}\nc: &y {d: 2}\nd: 0\n<<: [*x, *y]\n", true},
		{"<<: {b: 1}\n<<: {c: 1}\n", true},
		{"x:\n  - b: 2\n    !!merge <<: {b: 1}\n", true},
		// Every spelling of the merge tag (MayMerge must see each).
		{"b: 2\n!!merge \"\\x3c\\x3c\": {b: 1}\n", true},
		{"b: 2\n!<tag:yaml.org,2002:merge> \"\\x3c<\": {b: 1}\n", true},
		{"b: 2\n!<tag:yaml.org,2002:%6Derge> x: {b: 1}\n", true},
		{"%TAG !m! tag:yaml.org,2002:\n---\nb: 2\n!m!merge x: {b: 1}\n", true},
		{"\"\\x3c\\x3c\": {b: 1}\nb: 2\n", false}, // an escaped << is a string
	} {
		_, err := yamldoc.Parse([]byte(tc.doc))
		if got := errors.Is(err, yamldoc.ErrAmbiguousMerge); got != tc.refused {
			t.Errorf("%q: err %v, want refused %v", tc.doc, err, tc.refused)
		}
		if tc.refused && !yamldoc.MayMerge([]byte(tc.doc)) {
			t.Errorf("%q: refused, but MayMerge says it holds no merge key", tc.doc)
		}
	}
	// An alias bomb: every level merges the previous one twice.
	var b strings.Builder
	b.WriteString("l0: &l0 {k0: 1}\n")
	for i := 1; i < 60; i++ {
		b.WriteString(strings.NewReplacer("N", strconv.Itoa(i), "P", strconv.Itoa(i-1)).Replace("lN: &lN {<<: [*lP, *lP], kN: 1}\n"))
	}
	if _, err := yamldoc.Parse([]byte(b.String())); err != nil {
		t.Fatalf("merge chain: %v", err)
	}
}
