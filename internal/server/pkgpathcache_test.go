package server_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"pkgstore/internal/registry/pkgpath"
	"pkgstore/internal/server"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/ziptest"
)

// TestPackagePathCacheWrittenWhileServing: serve leaves writing the
// package paths' cache until it listens (the first start answers /health
// without waiting for it), then writes it, so that a restart over the same
// folders reads no package again.
func TestPackagePathCacheWrittenWhileServing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, n := range []string{"one", "two"} {
		if err := os.WriteFile(filepath.Join(dir, n+"-1.0.0.zip"), ziptest.SortedPackage(t, n, "1.0.0", nil), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	configure := func(cfg *server.Config) {
		cfg.PackagePaths = []string{dir}
		cfg.NoSpecValidation = true
		cfg.RequireSignatures = false
	}
	data := filepath.Join(t.TempDir(), "data")
	st := servertest.Start(t, servertest.Options{Data: data, Configure: configure})
	if l, r := st.Server.Local.LastScan(); l != 2 || r != 0 {
		t.Fatalf("first start: loaded %d, reused %d; want 2, 0", l, r)
	}
	pack := filepath.Join(data, pkgpath.DefaultCacheDir, "packages.pack")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(pack); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the package paths' cache was not written while serving")
		}
		time.Sleep(10 * time.Millisecond)
	}
	st.Stop()
	st2 := servertest.Start(t, servertest.Options{Data: data, Configure: configure})
	if l, r := st2.Server.Local.LastScan(); l != 0 || r != 2 {
		t.Fatalf("restart: loaded %d, reused %d; want 0, 2", l, r)
	}
	if code, _ := st2.Get(t, "/package/two/1.0.0/"); code != 200 {
		t.Fatalf("restart: /package/two/1.0.0/ answered %d", code)
	}
}
