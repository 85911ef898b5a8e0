package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		old     string // "" for no file before
		fill    func(w io.Writer) error
		want    string
		wantErr error
	}{
		{"new file", "", func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }, "new", nil},
		{"replaces", "old", func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }, "new", nil},
		{"failed fill keeps the old file", "old", func(w io.Writer) error { _, _ = io.WriteString(w, "par"); return boom }, "old", boom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "f.txt")
			if tc.old != "" {
				if err := os.WriteFile(p, []byte(tc.old), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := Write(p, tc.fill); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Write: %v, want %v", err, tc.wantErr)
			}
			b, err := os.ReadFile(p)
			if err != nil || string(b) != tc.want {
				t.Fatalf("content %q (%v), want %q", b, err, tc.want)
			}
			if tc.wantErr == nil {
				if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
					t.Errorf("mode %v, want 0644", fi.Mode().Perm())
				}
			}
			if es, _ := os.ReadDir(dir); len(es) != 1 {
				t.Errorf("%d entries in the folder, want only the file (no temporary left)", len(es))
			}
		})
	}
}

func TestWriteMissingFolder(t *testing.T) {
	p := filepath.Join(t.TempDir(), "no", "f.txt")
	if err := Write(p, func(io.Writer) error { return nil }); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Write into a missing folder: %v, want not exist", err)
	}
}
