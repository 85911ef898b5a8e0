package fsdriver_test

import (
	"testing"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"pkgstore/internal/storage"
	"pkgstore/internal/storage/fsdriver"
)

// fsOf returns the folder driver behind b.
func fsOf(b *storage.Bucket) *fsdriver.Bucket { return b.Driver().(*fsdriver.Bucket) }

// dirOf returns the folder of b.
func dirOf(b *storage.Bucket) string { return fsOf(b).Dir() }

// fileblobOf opens gocloud's file driver on b's folder, as earlier
// versions of the store opened it: the reference the folder driver must
// agree with.
func fileblobOf(t testing.TB, b *storage.Bucket) *blob.Bucket {
	t.Helper()
	return openFileblob(t, dirOf(b))
}

func openFileblob(t testing.TB, dir string) *blob.Bucket {
	t.Helper()
	fb, err := fileblob.OpenBucket(dir, &fileblob.Options{Metadata: fileblob.MetadataDontWrite, NoTempDir: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fb.Close() })
	return fb
}
