package mirror_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pkgstore/internal/client/mirror"
	"pkgstore/internal/testkit/sigtest"
)

// TestExistingBundleWithForgedPaths: growing a bundle whose manifest names
// files outside its own layout (../ paths) stops the run before anything is
// written, instead of writing or deleting files outside the work folder.
func TestExistingBundleWithForgedPaths(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	op := sigtest.NewKey(t, "operator")
	up, _ := storeUpstream(t, key, catalog)
	b, rl := makeBundle(t, up, key, op, mirror.Filters{})

	// Rewrite the bundle: the first entry's zip becomes a path that leads
	// two folders up from the work folder, with a tar member of that name.
	outside := filepath.Join(filepath.Dir(b), "victim.txt")
	if err := os.WriteFile(outside, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	evil := "../victim.txt"
	rewriteBundle(t, b, func(name string, body []byte) (string, []byte) {
		if name != mirror.ManifestName {
			return name, body
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		first := m["packages"].([]any)[0].(map[string]any)
		first["zip"] = evil
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return name, out
	}, evil)
	before := rl.zipGets()

	_, err := mirror.Run(context.Background(), mirror.Config{From: rl.URL, Keyring: key.Keyring, Bundle: b, Retry: fastRetry})
	if !errors.Is(err, mirror.ErrFatal) || !strings.Contains(err.Error(), "manifest entry") {
		t.Fatalf("forged existing bundle: %v, want a fatal manifest entry error", err)
	}
	if got, err := os.ReadFile(outside); err != nil || string(got) != "keep me" {
		t.Fatalf("file outside the work folder: %q, %v", got, err)
	}
	if n := rl.zipGets() - before; n != 0 {
		t.Errorf("%d downloads after refusing the bundle", n)
	}
}

// rewriteBundle rewrites the tar at path through edit, then appends an
// extra member named extra (a forged file) before the end.
func rewriteBundle(t *testing.T, path string, edit func(name string, body []byte) (string, []byte), extra string) {
	t.Helper()
	in, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	tr := tar.NewReader(bytes.NewReader(in))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		name, body := edit(h.Name, body)
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	forged := []byte("forged")
	if err := tw.WriteHeader(&tar.Header{Name: extra, Mode: 0o644, Size: int64(len(forged)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(forged); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
