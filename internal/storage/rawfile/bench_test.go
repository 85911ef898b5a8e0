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
//	go test ./internal/storage/rawfile -run '^$' -bench SmallFiles
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
	read := func(open func(string) (io.ReadCloser, error)) func(*testing.B) {
		return func(b *testing.B) {
			i := 0
			for b.Loop() {
				f, err := open(filepath.Join(src, fmt.Sprint(i%files)))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, buf); err != nil {
					b.Fatal(err)
				}
				f.Close()
				i++
			}
		}
	}
	b.Run("read/os", read(func(p string) (io.ReadCloser, error) { return os.Open(p) }))
	b.Run("read/rawfile", read(func(p string) (io.ReadCloser, error) { return Open(p) }))

	// Writes overwrite a fixed set of files, so that the benchmark measures
	// the calls rather than the file system's allocation of new inodes.
	dst := b.TempDir()
	d, err := OpenDir(dst)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	write := func(create func(string) (io.WriteCloser, error)) func(*testing.B) {
		return func(b *testing.B) {
			i := 0
			for b.Loop() {
				f, err := create(fmt.Sprint(i % files))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.Write(data); err != nil {
					b.Fatal(err)
				}
				f.Close()
				i++
			}
		}
	}
	b.Run("write/os", write(func(name string) (io.WriteCloser, error) {
		return os.OpenFile(filepath.Join(dst, name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	}))
	b.Run("write/rawfile", write(func(name string) (io.WriteCloser, error) { return d.Create(name, 0o666) }))
}
