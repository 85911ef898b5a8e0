package fsdriver_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"pkgstore/internal/storage"
)

var errUpload = errors.New("connection reset")

// failingReader returns some bytes, then an error.
func failingReader() io.Reader {
	return io.MultiReader(strings.NewReader("partial"), iotest.ErrReader(errUpload))
}

// TestWriteLocal checks the file bucket's own writes against gocloud's
// file driver, which reads, lists and serves what they write: same
// content, same file modes, replacement in place, and nothing written
// (no object, no temporary file) when the source fails or ctx ends.
func TestWriteLocal(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		before  string // existing content, "" for none
		write   func(ctx context.Context, b *storage.Bucket, key string) error
		cancel  bool
		wantErr error
		want    string // content after; "" for absent
	}{
		{"WriteAll, new folders", "a/b/c/rec.json", "", func(ctx context.Context, b *storage.Bucket, key string) error {
			return b.WriteAll(ctx, key, []byte(`{"x":1}`), nil)
		}, false, nil, `{"x":1}`},
		{"WriteAll replaces", "pkgstore/submissions/s.json", "old", func(ctx context.Context, b *storage.Bucket, key string) error {
			return b.WriteAll(ctx, key, []byte("new"), &storage.WriterOptions{ContentType: "application/json"})
		}, false, nil, "new"},
		{"WriteFile streams", "queue-publishing/1-ab/a-1.0.0.zip", "", func(ctx context.Context, b *storage.Bucket, key string) error {
			return b.WriteFile(ctx, key, strings.NewReader(strings.Repeat("z", 200_000)), nil)
		}, false, nil, strings.Repeat("z", 200_000)},
		{"WriteFile of a failing source", "q/a.zip", "kept", func(ctx context.Context, b *storage.Bucket, key string) error {
			return b.WriteFile(ctx, key, failingReader(), nil)
		}, false, errUpload, "kept"},
		{"WriteFile of a failing source, new key", "q/new/a.zip", "", func(ctx context.Context, b *storage.Bucket, key string) error {
			return b.WriteFile(ctx, key, failingReader(), nil)
		}, false, errUpload, ""},
		{"cancelled", "r/a.json", "kept", func(ctx context.Context, b *storage.Bucket, key string) error {
			return b.WriteAll(ctx, key, []byte("lost"), nil)
		}, true, context.Canceled, "kept"},
		{"key the driver escapes", "p/a__0x41__b.json", "", func(ctx context.Context, b *storage.Bucket, key string) error {
			return b.WriteAll(ctx, key, []byte("escaped"), nil)
		}, false, nil, "escaped"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := storage.OpenDir(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.before != "" {
				// Through the driver: what the bucket held before.
				if err := fileblobOf(t, b).WriteAll(ctx, tc.key, []byte(tc.before), nil); err != nil {
					t.Fatal(err)
				}
			}
			if tc.cancel {
				cancel()
			}
			err = tc.write(ctx, b, tc.key)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("write = %v, want %v", err, tc.wantErr)
			}
			got, err := fileblobOf(t, b).ReadAll(context.Background(), tc.key)
			switch {
			case tc.want == "" && !storage.IsNotFound(err):
				t.Errorf("%s exists (%q, %v); want nothing written", tc.key, got, err)
			case tc.want != "" && (err != nil || string(got) != tc.want):
				t.Errorf("%s = %.20q (%d bytes), %v; want %.20q", tc.key, got, len(got), err, tc.want)
			}
			// Nothing else: no temporary file, in any folder.
			var files []string
			filepath.WalkDir(dirOf(b), func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(dirOf(b), p)
					files = append(files, rel)
				}
				return nil
			})
			if want := map[bool]int{true: 1, false: 0}[tc.want != ""]; len(files) != want {
				t.Errorf("files in the bucket: %v, want %d", files, want)
			}
		})
	}
}

// TestWriteLocalModes: objects and folders get the modes the driver gives
// them (0o666 and 0o777 less the umask), so that a store written by
// either looks the same to a web server or an rsync.
func TestWriteLocalModes(t *testing.T) {
	ctx := context.Background()
	b, err := storage.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.WriteAll(ctx, "ours/x/a.json", []byte("1"), nil); err != nil {
		t.Fatal(err)
	}
	if err := fileblobOf(t, b).WriteAll(ctx, "driver/x/a.json", []byte("1"), nil); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"x", "x/a.json"} {
		ours, err1 := os.Stat(filepath.Join(dirOf(b), "ours", rel))
		theirs, err2 := os.Stat(filepath.Join(dirOf(b), "driver", rel))
		if err1 != nil || err2 != nil || ours.Mode() != theirs.Mode() {
			t.Errorf("%s: mode %v (%v), the driver's %v (%v)", rel, ours.Mode(), err1, theirs.Mode(), err2)
		}
	}
	r, err := fileblobOf(t, b).NewReader(ctx, "ours/x/a.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if data, _ := io.ReadAll(r); string(data) != "1" {
		t.Errorf("driver reads %q", data)
	}
}
