package rawfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkSmallFiles compares package os with rawfile on what building
// and extracting a package do most: open, read or write 4 KiB, close.
//
//	go test ./internal/rawfile -run '^$' -bench SmallFiles
func BenchmarkSmallFiles(b *testing.B) {
	data := make([]byte, 4<<10)
	buf := make([]byte, 64<<10)
	src := b.TempDir()
	const files = 256
	for i := range files {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprint(i)), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("read/os", func(b *testing.B) {
		i := 0
		for b.Loop() {
			f, err := os.Open(filepath.Join(src, fmt.Sprint(i%files)))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, buf); err != nil {
				b.Fatal(err)
			}
			f.Close()
			i++
		}
	})
	b.Run("read/rawfile", func(b *testing.B) {
		i := 0
		for b.Loop() {
			f, err := Open(filepath.Join(src, fmt.Sprint(i%files)))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, buf); err != nil {
				b.Fatal(err)
			}
			f.Close()
			i++
		}
	})
	// Writes overwrite a fixed set of files, so that the benchmark measures
	// the calls rather than the file system's allocation of new inodes.
	dst := b.TempDir()
	b.Run("write/os", func(b *testing.B) {
		i := 0
		for b.Loop() {
			f, err := os.OpenFile(filepath.Join(dst, fmt.Sprint(i%files)), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.Write(data); err != nil {
				b.Fatal(err)
			}
			f.Close()
			i++
		}
	})
	b.Run("write/rawfile", func(b *testing.B) {
		d, err := OpenDir(dst)
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		i := 0
		for b.Loop() {
			f, err := d.Create(fmt.Sprint(i%files), 0o666)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.Write(data); err != nil {
				b.Fatal(err)
			}
			f.Close()
			i++
		}
	})
}
