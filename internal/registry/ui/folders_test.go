package ui_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"pkgstore/internal/builder"
	"pkgstore/internal/testkit/servertest"
)

// publishFolders zips every NAME/VERSION folder under dir (v1 layout, as
// `pkgstore build --v1` would) and publishes them into s.
func publishFolders(t testing.TB, s *servertest.Store, dir string) {
	t.Helper()
	var zips []servertest.Zip
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		versions, err := os.ReadDir(filepath.Join(dir, n.Name()))
		if err != nil || !n.IsDir() {
			continue
		}
		for _, v := range versions {
			if !v.IsDir() {
				continue
			}
			var buf bytes.Buffer
			id, _, err := builder.WriteV1(context.Background(), &buf, filepath.Join(dir, n.Name(), v.Name()))
			if err != nil {
				t.Fatalf("build %s/%s: %v", n.Name(), v.Name(), err)
			}
			zips = append(zips, servertest.Zip{ID: id, Data: buf.Bytes()})
		}
	}
	s.PublishZips(t, zips)
}
