package prodcorpus

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"pkgstore/internal/pkg/mediatype"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/storagetest"
)

// GCSCopy is a store copied into fake-gcs-server (in the test process) for
// readers of its current index: the reference EPR's storage indexer and
// `pkgstore serve --read-only`.
type GCSCopy struct {
	GCS *storagetest.GCS
	// Public and Internal are the buckets' gs:// URLs.
	Public, Internal string
	// Cursor is the current cursor both readers load.
	Cursor string
	// NPublic and NInternal count the objects copied.
	NPublic, NInternal int
}

// PublicName and InternalName are the buckets' names (no gs://).
func (c *GCSCopy) PublicName() string   { return strings.TrimPrefix(c.Public, "gs://") }
func (c *GCSCopy) InternalName() string { return strings.TrimPrefix(c.Internal, "gs://") }

// CurrentCursor reads the store's current cursor.
func CurrentCursor(ctx context.Context, src *storage.Buckets) (string, error) {
	data, err := src.Internal.ReadAll(ctx, storage.CursorKey)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", storage.CursorKey, err)
	}
	var cursor struct {
		Current string `json:"current"`
	}
	if err := json.Unmarshal(data, &cursor); err != nil {
		return "", fmt.Errorf("decode %s: %w", storage.CursorKey, err)
	}
	if cursor.Current == "" {
		return "", fmt.Errorf("%s names no current cursor", storage.CursorKey)
	}
	return cursor.Current, nil
}

// CopyToGCS starts fake-gcs-server (STORAGE_EMULATOR_HOST is set for the
// rest of the test) and copies into two new buckets what readers of src's
// current index read: the cursor, the current cursor's index and our notes
// on cursors; of the public bucket, the zips, signatures and static files
// of the revisions ids (NAME-VERSION) only, and anything else it holds,
// each with the content type the job stores on cloud buckets.
// The earlier cursors' indexes, the job's records and the documents it
// wrote beside the index stay out, and so do the other revisions'
// artifacts: the corpus's 3.5 GB of zips and their 480,000 static files
// would not fit in the emulator's memory, which takes minutes per 100,000
// objects. src is only read.
func CopyToGCS(tb testing.TB, src *storage.Buckets, ids []string) *GCSCopy {
	tb.Helper()
	ctx := context.Background()
	cursor, err := CurrentCursor(ctx, src)
	if err != nil {
		tb.Fatal(err)
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	g := storagetest.StartGCS(tb)
	c := &GCSCopy{GCS: g, Public: g.NewBucket(tb), Internal: g.NewBucket(tb), Cursor: cursor}
	c.NPublic = copyBucket(tb, g, src.Public, c.Public, func(key string) bool {
		switch {
		case strings.HasPrefix(key, storage.PackagesPrefix):
			id := strings.TrimPrefix(key, storage.PackagesPrefix)
			id = strings.TrimSuffix(strings.TrimSuffix(id, ".sig"), ".zip")
			return want[id]
		case strings.HasPrefix(key, storage.StaticPrefix):
			id, _, _ := strings.Cut(strings.TrimPrefix(key, storage.StaticPrefix), "/")
			return want[id]
		}
		return true
	})
	c.NInternal = copyBucket(tb, g, src.Internal, c.Internal, func(key string) bool {
		switch {
		case key == storage.CursorKey, strings.HasPrefix(key, storage.MetadataPrefix+cursor+"/"), strings.HasPrefix(key, storage.IndexInfoPrefix):
			return true
		case strings.HasPrefix(key, storage.MetadataPrefix), strings.HasPrefix(key, storage.OwnPrefix):
			return false
		}
		return true
	})
	return c
}

// contentType is the type the publishing job stores with key on a cloud
// bucket (a folder keeps none): EPR's storage indexer relays it for
// artifacts and static files, so a copy without it would differ from a
// store published to GCS.
func contentType(key string, data []byte) string {
	switch {
	case strings.HasPrefix(key, storage.StaticPrefix):
		return mediatype.ForFile(key, data[:min(len(data), mediatype.SniffLen)])
	case strings.HasSuffix(key, ".zip.sig"):
		return "application/pgp-signature"
	case strings.HasSuffix(key, ".zip"):
		return "application/zip"
	case strings.HasSuffix(key, ".json"):
		return "application/json"
	}
	return ""
}

// copyBucket copies every object of the bucket src that keep accepts into
// the emulator's bucket dst (gs://NAME), four at a time, and returns how
// many it copied.
func copyBucket(tb testing.TB, g *storagetest.GCS, src *storage.Bucket, dst string, keep func(key string) bool) int {
	tb.Helper()
	ctx := context.Background()
	objs, err := src.ListAll(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	name := strings.TrimPrefix(dst, "gs://")
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	var failed atomic.Pointer[error]
	n := 0
	for _, o := range objs {
		if !keep(o.Key) {
			continue
		}
		n++
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			data, err := src.ReadAll(ctx, o.Key)
			if err != nil {
				err = fmt.Errorf("copy %s: %w", o.Key, err)
				failed.Store(&err)
				return
			}
			g.Server.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: name, Name: o.Key, ContentType: contentType(o.Key, data)}, Content: data})
		}()
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		tb.Fatal(*err)
	}
	return n
}
