package builder

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"pkgstore/internal/pkg/archive"
	"pkgstore/internal/testkit/sharedtest"
)

// v1Revisions lists the packages/NAME/VERSION folders of a v1 checkout.
func v1Revisions(tb testing.TB, root string) (dirs []string, size int64) {
	tb.Helper()
	dirs, err := filepath.Glob(filepath.Join(root, "packages", "*", "*"))
	if err != nil {
		tb.Fatal(err)
	}
	err = filepath.Walk(filepath.Join(root, "packages"), func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			size += fi.Size()
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return dirs, size
}

// TestV1SampleRoundTrip builds every revision of the v1 sample and checks
// that each zip holds exactly the folder's files, byte for byte.
func TestV1SampleRoundTrip(t *testing.T) {
	root := sharedtest.UnpackV1(t)
	dirs, _ := v1Revisions(t, root)
	if len(dirs) != sharedtest.V1Revisions {
		t.Fatalf("%d revisions, want %d", len(dirs), sharedtest.V1Revisions)
	}
	for _, dir := range dirs {
		var buf bytes.Buffer
		id, st, err := WriteV1(context.Background(), &buf, dir)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		// The publishing job's defensive opener accepts it.
		if _, err := archive.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()), id, archive.DefaultLimits); err != nil {
			t.Fatalf("%s: the publisher would refuse the zip: %v", id, err)
		}
		prefix := id.String() + "/"
		seen := 0
		for _, f := range zr.File {
			if !strings.HasPrefix(f.Name, prefix) {
				t.Fatalf("%s: entry %q outside the root folder", id, f.Name)
			}
			if strings.HasSuffix(f.Name, "/") {
				continue
			}
			seen++
			want, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(f.Name, prefix))))
			if err != nil {
				t.Fatalf("%s: %v", f.Name, err)
			}
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s: content differs (%v)", f.Name, err)
			}
		}
		var onDisk int
		filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
			if err == nil && fi.Mode().IsRegular() {
				onDisk++
			}
			return nil
		})
		if seen != onDisk || st.Files != onDisk {
			t.Fatalf("%s: %d entries (stats %d) for %d files", id, seen, st.Files, onDisk)
		}
	}
}

// BenchmarkBuildV1 measures the zip step alone over the whole v1 sample, on
// GOMAXPROCS workers; MB/s counts uncompressed package bytes.
func BenchmarkBuildV1(b *testing.B) {
	root := sharedtest.UnpackV1(b)
	dirs, size := v1Revisions(b, root)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		work := make(chan string)
		var wg sync.WaitGroup
		for range runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				for dir := range work {
					if _, _, err := WriteV1(context.Background(), io.Discard, dir); err != nil {
						b.Error(err)
					}
				}
			})
		}
		for _, d := range dirs {
			work <- d
		}
		close(work)
		wg.Wait()
	}
	b.ReportMetric(float64(len(dirs)*b.N)/b.Elapsed().Seconds(), "revisions/s")
}
