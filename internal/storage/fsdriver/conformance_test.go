package fsdriver_test

import (
	"testing"

	"pkgstore/internal/storage"
	"pkgstore/internal/storage/driver"
	"pkgstore/internal/storage/fsdriver"
	"pkgstore/internal/testkit/drivertest"
)

func TestConformance(t *testing.T) {
	drivertest.RunConformanceTests(t, drivertest.Harness{
		Folder: true,
		Open: func(t *testing.T) driver.Bucket {
			b, err := fsdriver.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		Check: func(t *testing.T, d driver.Bucket) {
			assertNoTemp(t, storage.NewBucket(d))
		},
	})
}
