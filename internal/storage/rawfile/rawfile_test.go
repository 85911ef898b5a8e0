package rawfile

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

func TestOpenRead(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef"), 10_000) // several reads
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"small", []byte("hello\n")},
		{"big", big},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name)
			if err := os.WriteFile(p, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(iotest.OneByteReader(struct{ io.Reader }{f}))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, c.data) {
				t.Fatalf("read %d bytes, want %d", len(got), len(c.data))
			}
			if n, err := f.Read(make([]byte, 8)); n != 0 || err != io.EOF {
				t.Fatalf("read after the end: %d, %v; want 0, EOF", n, err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); !errors.Is(err, fs.ErrClosed) {
				t.Fatalf("second Close: %v, want fs.ErrClosed", err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("Open of a missing file: %v, want fs.ErrNotExist naming it", err)
	}
	if _, err := OpenDir(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenDir of a missing folder: %v, want fs.ErrNotExist", err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenDir(file); err == nil {
		t.Fatal("OpenDir of a file succeeded")
	}
}

func TestDir(t *testing.T) {
	root := t.TempDir()
	d, err := OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	sub := filepath.Join("a", "b")
	if err := d.Mkdir(sub, 0o755); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Mkdir without its parent: %v, want fs.ErrNotExist", err)
	}
	for _, rel := range []string{"a", sub} {
		if err := d.Mkdir(rel, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Mkdir("a", 0o755); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Mkdir of an existing folder: %v, want fs.ErrExist", err)
	}
	rel := filepath.Join(sub, "f.txt")
	write := func(data string) {
		t.Helper()
		f, err := d.Create(rel, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := f.Write([]byte(data)); n != len(data) || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	write("first version, the longer one")
	write("second") // truncates
	got, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil || string(got) != "second" {
		t.Fatalf("file holds %q (%v), want %q", got, err, "second")
	}
	if _, err := d.Create(filepath.Join("missing", "f"), 0o644); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), root) {
		t.Fatalf("Create in a missing folder: %v, want fs.ErrNotExist naming the full path", err)
	}
}

// writeLog records the length of each write.
type writeLog struct {
	bytes.Buffer
	writes []int
}

func (w *writeLog) Write(p []byte) (int, error) {
	w.writes = append(w.writes, len(p))
	return w.Buffer.Write(p)
}

type failWriter struct{ n int }

func (w failWriter) Write(p []byte) (int, error) { return min(w.n, len(p)), errors.New("disk full") }

func TestCopy(t *testing.T) {
	data := []byte("0123456789")
	boom := errors.New("boom")
	for _, c := range []struct {
		name       string
		src        io.Reader
		buf        int
		wantWrites []int
		wantErr    error
	}{
		{"pieces fill the buffer", iotest.OneByteReader(bytes.NewReader(data)), 4, []int{4, 4, 2}, nil},
		{"exact multiple", bytes.NewReader(data[:8]), 4, []int{4, 4}, nil},
		{"empty source", bytes.NewReader(nil), 4, nil, nil},
		{"data then EOF together", iotest.DataErrReader(bytes.NewReader(data)), 16, []int{10}, nil},
		{"reader error after data", io.MultiReader(bytes.NewReader(data[:3]), iotest.ErrReader(boom)), 4, []int{3}, boom},
		{"source's own unexpected EOF", io.MultiReader(bytes.NewReader(data[:3]), iotest.ErrReader(io.ErrUnexpectedEOF)), 4, []int{3}, io.ErrUnexpectedEOF},
	} {
		t.Run(c.name, func(t *testing.T) {
			var w writeLog
			n, err := Copy(&w, c.src, make([]byte, c.buf))
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			if len(w.writes) != len(c.wantWrites) {
				t.Fatalf("writes %v, want %v", w.writes, c.wantWrites)
			}
			for i := range w.writes {
				if w.writes[i] != c.wantWrites[i] {
					t.Fatalf("writes %v, want %v", w.writes, c.wantWrites)
				}
			}
			if n != int64(w.Len()) {
				t.Fatalf("Copy returned %d, wrote %d", n, w.Len())
			}
		})
	}
	if n, err := Copy(failWriter{2}, bytes.NewReader(data), make([]byte, 4)); err == nil || n != 2 {
		t.Fatalf("Copy to a failing writer: %d, %v; want 2 and its error", n, err)
	}
	if _, err := Copy(io.Discard, bytes.NewReader(data), nil); err == nil {
		t.Fatal("Copy with an empty buffer succeeded")
	}
}
