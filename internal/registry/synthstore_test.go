package registry_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/storage"
)

var synthStore = flag.String("synth-store", "", "write the synthetic 20,000-revision store (index, zips, signatures, READMEs, icons) to this --data folder, for `pkgstore serve --read-only` and `pkgstore loadtest`")

// TestWriteSynthStore writes the benchmarks' synthetic 20,000-revision
// store as a file store (docs/benchmarks.md):
//
//	go test ./internal/registry -run TestWriteSynthStore -synth-store /tmp/synth20k
//
// Every synthetic revision reuses (by hard link) the zip, signature,
// README and icons of the v1 revision its document was made from.
func TestWriteSynthStore(t *testing.T) {
	if *synthStore == "" {
		t.Skip("pass -synth-store DIR")
	}
	f := v1Store(t)
	const n = 20000
	s := synthetic(t, f, n)
	ctx := context.Background()
	dir := *synthStore
	b, err := storage.Open(ctx, storage.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s.b = b
	s.write(t)

	// The original files, once, in a pool outside the buckets.
	pool := filepath.Join(dir, "pool")
	pub := f.store.Server.Buckets.Public
	copyOut := func(key string) string {
		dst := filepath.Join(pool, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		data, err := pub.ReadAll(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	type files struct{ keys map[string]string } // relative key -> pool path
	orig := make([]files, len(f.published))
	for i, c := range f.published {
		fs := files{keys: map[string]string{}}
		fs.keys["zip"] = copyOut(storage.ZipKey(c.id))
		fs.keys["sig"] = copyOut(storage.SignatureKey(c.id))
		objs, err := pub.ListAll(ctx, &storage.ListOptions{Prefix: storage.StaticKey(c.id, "")})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			rel := strings.TrimPrefix(o.Key, storage.StaticKey(c.id, ""))
			if strings.HasPrefix(rel, "docs/README.md") || strings.HasPrefix(rel, "img/") {
				fs.keys["static/"+rel] = copyOut(o.Key)
			}
		}
		orig[i] = fs
	}
	link := func(src, key string) {
		dst := filepath.Join(dir, "public", filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(src, dst); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
	}
	for j, e := range s.entries {
		// synthetic() cycles through the published revisions in order.
		o := orig[j%len(orig)]
		id := packageid.ID{Name: e.ID.Name, Version: e.ID.Version}
		link(o.keys["zip"], storage.ZipKey(id))
		link(o.keys["sig"], storage.SignatureKey(id))
		for k, src := range o.keys {
			if rel, ok := strings.CutPrefix(k, "static/"); ok {
				link(src, storage.StaticKey(id, rel))
			}
		}
	}
	t.Logf("wrote %d revisions to %s: pkgstore serve --read-only --data %s", len(s.entries), dir, dir)
}
