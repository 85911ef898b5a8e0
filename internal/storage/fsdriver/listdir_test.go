package fsdriver_test

import (
	"io"
	"strings"

	"context"
	"gocloud.dev/blob"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"pkgstore/internal/storage"
)

// TestListLevel: reading one folder gives what gocloud's file driver's
// delimiter listing gives, temporary files aside, including for names that
// need unescaping.
func TestListLevel(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		keys []string
	}{
		{"plain", []string{"a/b.json", "a/c~d~e.json", "a/sub/x.json", "a/sub/deeper/y", "other/z"}},
		{"escaped names", []string{"a/b.json", "a/x__0x41__y.json", "a/sub/x.json"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			b, err := storage.OpenDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			for _, k := range tt.keys {
				if err := b.WriteAll(ctx, k, []byte(k), nil); err != nil {
					t.Fatal(err)
				}
			}
			// A writer's temporary file beside the objects.
			if err := os.WriteFile(filepath.Join(dir, "a", "b.json.18a2b3c4d5e6f708.tmp"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, prefix := range []string{"a/", "a/sub/", "missing/"} {
				keys, dirs, err := b.ListLevel(ctx, prefix)
				if err != nil {
					t.Fatal(err)
				}
				var wantKeys, wantDirs []string
				it := fileblobOf(t, b).List(&blob.ListOptions{Prefix: prefix, Delimiter: "/"})
				for {
					o, err := it.Next(ctx)
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					switch {
					case o.IsDir:
						wantDirs = append(wantDirs, o.Key)
					case strings.HasSuffix(o.Key, ".tmp"):
						// fileblob lists writers' temporary files
					default:
						wantKeys = append(wantKeys, o.Key)
					}
				}
				slices.Sort(keys)
				slices.Sort(dirs)
				if !slices.Equal(keys, wantKeys) || !slices.Equal(dirs, wantDirs) {
					t.Errorf("%s: ListLevel %v %v, gocloud %v %v", prefix, keys, dirs, wantKeys, wantDirs)
				}
			}
		})
	}
}
