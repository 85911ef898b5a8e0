package blobdriver_test

import (
	"context"
	"testing"

	"pkgstore/internal/storage"
	"pkgstore/internal/storage/blobdriver"
	"pkgstore/internal/storage/driver"
	"pkgstore/internal/testkit/drivertest"
	"pkgstore/internal/testkit/storagetest"
)

func TestConformanceMem(t *testing.T) {
	drivertest.RunConformanceTests(t, drivertest.Harness{
		Open: func(t *testing.T) driver.Bucket {
			b, err := blobdriver.Open(context.Background(), "mem://")
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
	})
}

// TestConformanceCloud runs the suite against fake-gcs-server, MinIO and
// Azurite (skipped where minio or Azurite is missing, failed under CI=true).
func TestConformanceCloud(t *testing.T) {
	const mib = 1 << 20
	// S3: the transfer manager goes multipart past 16 MiB whatever the
	// part size, so the raced object is 17 MiB, in 5 MiB parts. GCS: 1 MiB
	// chunks make it a 17-request resumable upload. Azure: 4 MiB blocks make
	// it five Put Block requests and a Put Block List that commits them.
	chunked := map[string]*storage.WriterOptions{"gcs": {BufferSize: mib}, "s3": {BufferSize: 5 * mib}, "azure": {BufferSize: 4 * mib}}
	for _, be := range storagetest.Backends {
		t.Run(be.Name, func(t *testing.T) {
			srv := be.Start(t)
			drivertest.RunConformanceTests(t, drivertest.Harness{
				Chunked: chunked[be.Name],
				Open: func(t *testing.T) driver.Bucket {
					b, err := blobdriver.Open(context.Background(), srv.NewBucket(t))
					if err != nil {
						t.Fatal(err)
					}
					return b
				},
			})
		})
	}
}
