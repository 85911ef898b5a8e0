package publish

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"pkgstore/internal/storage"
)

var errClientGone = errors.New("client went away")

// TestUploadZip: an upload up to the limit is queued whole; one byte more,
// or a failing upload, leaves nothing in the queue, on file and cloud
// buckets, and the caller learns which it was.
func TestUploadZip(t *testing.T) {
	const limit = 300_000
	for _, backend := range []string{"file", "mem"} {
		for _, tc := range []struct {
			name    string
			body    func() io.Reader
			wantErr error
		}{
			{"under the limit", func() io.Reader { return bytes.NewReader(make([]byte, 1000)) }, nil},
			{"exactly the limit", func() io.Reader { return bytes.NewReader(make([]byte, limit)) }, nil},
			{"one byte over", func() io.Reader { return bytes.NewReader(make([]byte, limit+1)) }, ErrTooLarge},
			{"far over", func() io.Reader { return bytes.NewReader(make([]byte, 3*limit)) }, ErrTooLarge},
			{"upload fails", func() io.Reader {
				return io.MultiReader(strings.NewReader("PK\x03\x04"), iotest.ErrReader(errClientGone))
			}, errClientGone},
		} {
			t.Run(backend+"/"+tc.name, func(t *testing.T) {
				ctx := context.Background()
				cfg := storage.Config{DataDir: t.TempDir()}
				if backend == "mem" {
					cfg.InternalURL, cfg.PublicURL = "mem://", "mem://"
				}
				b, err := storage.Open(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				p, err := New(Config{Buckets: b, MaxZipSize: limit})
				if err != nil {
					t.Fatal(err)
				}
				body := tc.body()
				size := int64(-1)
				if r, ok := body.(*bytes.Reader); ok {
					size = r.Size()
				}
				n, err := p.UploadZip(ctx, "1-ab", "a-1.0.0.zip", body)
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("UploadZip = %d, %v; want %v", n, err, tc.wantErr)
				}
				objs, lerr := b.Internal.ListAll(ctx, &storage.ListOptions{Prefix: storage.QueuePrefix})
				if lerr != nil {
					t.Fatal(lerr)
				}
				if tc.wantErr != nil {
					if len(objs) != 0 {
						t.Fatalf("refused upload left %d objects in the queue: %s", len(objs), objs[0].Key)
					}
					return
				}
				if n != size || len(objs) != 1 || objs[0].Size != size {
					t.Fatalf("queued %d objects (%v), n = %d; want one of %d bytes", len(objs), objs, n, size)
				}
			})
		}
	}
}
