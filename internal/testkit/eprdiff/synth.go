package eprdiff

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"

	"pkgstore/internal/pkg/packageid"
)

// DistributionRevisions is the size of the v1 production branch the
// distribution image bakes in (issue 22).
const DistributionRevisions = 1918

// SynthCorpus returns a corpus of n packages made from sample (the v1
// sample as BuildV1Folders zips it): sample's revisions in order, then
// copies whose manifest version and root folder have the patch version
// raised by 1000·k (k = 1, 2, …; a prerelease keeps its suffix), until
// there are n. Each package thus gets many versions interleaved with its
// real ones, prereleases among them: the shapes of the production branch
// (BenchmarkPackagePathsStart and TestPackagePathsScale share it). With
// tagEvery > 0, every tagEvery-th copy without a prerelease tag gets one
// (-rcK): previews among 0.x and 1.x versions, the shape Fleet's
// prerelease and experimental filters choose between.
func SynthCorpus(tb testing.TB, name string, sample []Built, n, tagEvery int) *Corpus {
	tb.Helper()
	if len(sample) == 0 {
		tb.Fatal("eprdiff: SynthCorpus: empty sample")
	}
	c := NewCorpus(name)
	for k := 0; len(c.Packages) < n; k++ {
		for _, s := range sample {
			if len(c.Packages) == n {
				break
			}
			nv := s.ID.Version
			if k > 0 {
				v, err := semver.StrictNewVersion(s.ID.Version)
				if err != nil {
					tb.Fatalf("eprdiff: %s: %v", s.Source, err)
				}
				nv = fmt.Sprintf("%d.%d.%d", v.Major(), v.Minor(), v.Patch()+uint64(1000*k))
				switch {
				case v.Prerelease() != "":
					nv += "-" + v.Prerelease()
				case tagEvery > 0 && len(c.Packages)%tagEvery == 0:
					nv += fmt.Sprintf("-rc%d", k)
				}
			}
			id := packageid.ID{Name: s.ID.Name, Version: nv}
			data, err := Revise(s.Zip, s.ID.String(), id.String(), nv)
			if err != nil {
				tb.Fatalf("eprdiff: revise %s as %s: %v", s.Source, id, err)
			}
			c.Add(tb, fmt.Sprintf("%s (as %s)", s.Source, nv), id, data, nil)
		}
	}
	return c
}

var manifestVersion = regexp.MustCompile(`(?m)^version:.*$`)

// Revise copies a package zip with its root folder oldRoot renamed to
// newRoot and the manifest's version line replaced by version; the other
// entries are copied still compressed.
func Revise(data []byte, oldRoot, newRoot, version string) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("read zip: %w", err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		name := newRoot + strings.TrimPrefix(f.Name, oldRoot)
		h := f.FileHeader
		h.Name = name
		if f.Name == oldRoot+"/manifest.yml" {
			rc, err := f.Open()
			if err != nil {
				return nil, fmt.Errorf("open %s: %w", f.Name, err)
			}
			m, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", f.Name, err)
			}
			m = manifestVersion.ReplaceAll(m, []byte("version: "+version))
			w, err := zw.CreateHeader(&h)
			if err != nil {
				return nil, fmt.Errorf("write %s: %w", name, err)
			}
			if _, err := w.Write(m); err != nil {
				return nil, fmt.Errorf("write %s: %w", name, err)
			}
			continue
		}
		w, err := zw.CreateRaw(&h)
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
		rc, err := f.OpenRaw()
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", f.Name, err)
		}
		if _, err := io.Copy(w, rc); err != nil {
			return nil, fmt.Errorf("copy %s: %w", f.Name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("close zip: %w", err)
	}
	return out.Bytes(), nil
}
