package main

import (
	"archive/zip"
	"bufio"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"pkgstore/internal/api"
	"strconv"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/client"
	"pkgstore/internal/testkit/ziptest"
)

// maxPeakRSS is the bound on a serve process that publishes and then
// serves a package at the size limits.
const maxPeakRSS = 150 << 20

// TestPeakRSSAtSizeLimit publishes a package at the default limits (250 MB
// uncompressed, files up to 150 MB, zip under the 250 MB upload limit) of
// random, incompressible bytes to a real `pkgstore serve` child on file
// buckets, downloads it back, and reads the child's peak resident set
// (VmHWM) from /proc: every step must stream.
func TestPeakRSSAtSizeLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("writes about 1 GB to disk")
	}
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "big-1.0.0.zip")
	sum := writeIncompressiblePackage(t, zipPath, "big", "1.0.0", []int64{140 << 20, 105 << 20})
	p := startServe(t, nil, "--data", filepath.Join(dir, "data"), "--publish-token", "tok", "--require-signatures=false")
	base := "http://" + p.Addr

	c, err := client.New(base, "tok")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sub, err := c.Publish(ctx, "big-1.0.0.zip", f, nil, client.Options{Legacy: true})
	if err != nil || sub.Status != api.StatusPublished {
		t.Fatalf("publish: %v %+v", err, sub)
	}
	// Wait for the index, then download it back (twice at once), checking
	// the bytes.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Head(base + "/epr/big/big-1.0.0.zip")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not visible after 30s: %v", err)
		}
	}
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			resp, err := http.Get(base + "/epr/big/big-1.0.0.zip")
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			h := sha256.New()
			if _, err := io.Copy(h, resp.Body); err != nil {
				errs <- err
				return
			}
			if resp.StatusCode != 200 || string(h.Sum(nil)) != string(sum) {
				errs <- &mismatch{resp.StatusCode}
				return
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("download: %v", err)
		}
	}
	hwm := peakRSS(t, p.cmd.Process.Pid)
	t.Logf("peak RSS of serve: %d MB (bound %d MB)", hwm>>20, maxPeakRSS>>20)
	if hwm > maxPeakRSS {
		t.Errorf("peak RSS %d MB over %d MB", hwm>>20, maxPeakRSS>>20)
	}
}

type mismatch struct{ code int }

func (m *mismatch) Error() string {
	return "downloaded zip differs (status " + strconv.Itoa(m.code) + ")"
}

// writeIncompressiblePackage streams a legacy package zip with random
// files of the given sizes to path and returns its SHA-256.
func writeIncompressiblePackage(t *testing.T, path, name, version string, sizes []int64) []byte {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	zw := zip.NewWriter(bw)
	root := name + "-" + version + "/"
	for _, e := range ziptest.PackageEntries(name, version) {
		w, err := zw.Create(e.Name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.Body)
	}
	rng := rand.NewChaCha8([32]byte{1})
	for i, size := range sizes {
		// Stored: deflate could not shrink random bytes anyway.
		w, err := zw.CreateHeader(&zip.FileHeader{Name: root + "data/blob" + strconv.Itoa(i) + ".bin", Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(w, rng, size); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	return h.Sum(nil)
}

// peakRSS reads VmHWM (peak resident set) of pid, in bytes.
func peakRSS(t testing.TB, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}
