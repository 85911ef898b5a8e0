package server_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/server"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/ziptest"
)

func describe(text string) func(string) string {
	return func(m string) string { return strings.Replace(m, "A package built by the tests.", text, 1) }
}

// TestPackagePathsBesideStore: package-path packages are served with the
// store's; the store wins a duplicate NAME-VERSION (EPR's storage indexer
// comes first); publishing a NAME-VERSION a package path serves is refused
// as a duplicate; the watcher serves added zips and drops removed ones.
func TestPackagePathsBesideStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	local := ziptest.SortedPackage(t, "inpath", "1.0.0", describe("from the package path"))
	if err := os.WriteFile(filepath.Join(dir, "inpath-1.0.0.zip"), local, 0o644); err != nil {
		t.Fatal(err)
	}
	st := servertest.Start(t, servertest.Options{Configure: func(cfg *server.Config) {
		cfg.PackagePaths = []string{dir}
		cfg.PackagePathWatch = 50 * time.Millisecond
		cfg.NoSpecValidation = true
		cfg.RequireSignatures = false
	}})
	if code, body := st.Get(t, "/package/inpath/1.0.0/"); code != 200 || !strings.Contains(string(body), "from the package path") {
		t.Fatalf("package-path document: %d %s", code, body)
	}
	if code, body := st.Get(t, "/epr/inpath/inpath-1.0.0.zip"); code != 200 || string(body) != string(local) {
		t.Fatalf("package-path zip: %d, %d bytes", code, len(body))
	}

	// The web catalog shows its README, read from the zip.
	if code, body := st.Get(t, "/ui/package/inpath/1.0.0/"); code != 200 || !strings.Contains(string(body), "A test package with") {
		t.Fatalf("web catalog page of a package-path revision: %d, README missing:\n%.2000s", code, body)
	}

	// Publishing what a package path serves: refused, nothing changes.
	sub := st.Publish(t, "inpath-1.0.0.zip", ziptest.SortedPackage(t, "inpath", "1.0.0", describe("published")), client.Options{Legacy: true})
	if sub.Status != api.StatusRejected || len(sub.Reasons) == 0 || sub.Reasons[0].Check != api.CheckDuplicate || !strings.Contains(sub.Reasons[0].Message, "package path") {
		t.Fatalf("publishing a package-path revision: %s %+v", sub.Status, sub.Reasons)
	}
	if _, body := st.Get(t, "/package/inpath/1.0.0/"); !strings.Contains(string(body), "from the package path") {
		t.Fatal("a refused publication changed what is served")
	}

	// The store's copy wins over one that appears in a package path later.
	sub = st.Publish(t, "both-1.0.0.zip", ziptest.SortedPackage(t, "both", "1.0.0", describe("from the store")), client.Options{Legacy: true})
	if sub.Status != api.StatusPublished {
		t.Fatalf("publish both-1.0.0: %s %+v", sub.Status, sub.Reasons)
	}
	st.WaitVisible(t, "both", "1.0.0")
	os.WriteFile(filepath.Join(dir, "both-1.0.0.zip"), ziptest.SortedPackage(t, "both", "1.0.0", describe("from the package path")), 0o644)
	added := filepath.Join(dir, "added-1.0.0.zip")
	os.WriteFile(added, ziptest.SortedPackage(t, "added", "1.0.0", nil), 0o644)
	st.WaitVisible(t, "added", "1.0.0")
	if _, body := st.Get(t, "/package/both/1.0.0/"); !strings.Contains(string(body), "from the store") {
		t.Fatalf("duplicate: the store should win:\n%s", body)
	}
	if _, body := st.Get(t, "/search?all=true"); strings.Count(string(body), `"name": "both"`) != 1 {
		t.Fatalf("duplicate listed twice:\n%s", body)
	}

	// Removed from the folder: gone from the registry.
	os.Remove(added)
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _ := st.Get(t, "/package/added/1.0.0/")
		if code == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("removed package still served: %d", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPackagePathRefusedAtStart: a package that does not load stops the
// start, as it stops EPR's, with the reason.
func TestPackagePathRefusedAtStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "nosig-1.0.0.zip"), ziptest.SortedPackage(t, "nosig", "1.0.0", nil), 0o644)
	_, err := server.New(t.Context(), server.Config{
		Storage:           storage.Config{DataDir: t.TempDir()},
		RequireSignatures: true,
		PackagePaths:      []string{dir},
	})
	if err == nil || !strings.Contains(err.Error(), "missing a required signature file") {
		t.Fatalf("server.New: %v", err)
	}
}
