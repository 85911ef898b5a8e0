package server_test

import (
	"bytes"
	"context"
	"net/url"
	"pkgstore/internal/api"
	"strconv"
	"strings"
	"sync"
	"testing"

	"pkgstore/internal/client"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/server"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/storagetest"
	"pkgstore/internal/testkit/ziptest"
)

// cloudStorage returns a config editor that puts the store on the given
// bucket URLs, read-only or not.
func cloudStorage(public, internal string, readOnly bool) func(*server.Config) {
	return func(cfg *server.Config) {
		cfg.Storage = storage.Config{PublicURL: public, InternalURL: internal}
		cfg.ReadOnly = readOnly
	}
}

// hasReason reports whether sub was refused with a reason of check.
func hasReason(sub *api.Submission, check, contains string) bool {
	for _, r := range sub.Reasons {
		if r.Check == check && strings.Contains(r.Message, contains) {
			return true
		}
	}
	return false
}

// TestCloudPublishEndToEnd publishes on cloud buckets (fake-gcs-server,
// MinIO), reads the package back through the registry, from the bucket
// itself and from a read-only replica, and checks write-once.
func TestCloudPublishEndToEnd(t *testing.T) {
	for _, be := range storagetest.Backends {
		t.Run(be.Name, func(t *testing.T) {
			srv := be.Start(t)
			publicURL, internalURL := srv.NewBucket(t), srv.NewBucket(t)
			s := servertest.Start(t, servertest.Options{Configure: cloudStorage(publicURL, internalURL, false)})

			data := ziptest.Package(t, "cloudpkg", "1.0.0")
			sub := s.Publish(t, "cloudpkg-1.0.0.zip", data, client.Options{Legacy: true})
			if sub.Status != api.StatusPublished {
				t.Fatalf("publish: status %s, reasons %+v", sub.Status, sub.Reasons)
			}
			s.WaitVisible(t, "cloudpkg", "1.0.0")
			if code, body := s.Get(t, "/epr/cloudpkg/cloudpkg-1.0.0.zip"); code != 200 || !bytes.Equal(body, data) {
				t.Fatalf("download: %d, byte-identical=%v", code, bytes.Equal(body, data))
			}
			// The static file with brackets and spaces is served...
			static := "img/[Logs] Screen shot.png"
			want := bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 64)
			if code, body := s.Get(t, "/package/cloudpkg/1.0.0/"+(&url.URL{Path: static}).EscapedPath()); code != 200 || !bytes.Equal(body, want) {
				t.Errorf("static %q: %d, %d bytes", static, code, len(body))
			}
			// ...and the objects really are in the cloud bucket.
			pub := storagetest.Open(t, publicURL)
			id := packageid.ID{Name: "cloudpkg", Version: "1.0.0"}
			if got, err := pub.ReadAll(context.Background(), storage.ZipKey(id)); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("zip in the public bucket: %d bytes, %v", len(got), err)
			}
			if got, err := pub.ReadAll(context.Background(), storage.StaticKey(id, static)); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("static file in the public bucket: %d bytes, %v", len(got), err)
			}

			// Write-once: the same bytes or other bytes are both refused.
			for _, again := range []struct {
				name string
				zip  []byte
			}{
				{"same bytes", data},
				{"other bytes", ziptest.Package(t, "cloudpkg", "1.0.0", ziptest.Entry{Name: "extra.txt", Body: []byte("other")})},
			} {
				sub := s.Publish(t, "cloudpkg-1.0.0.zip", again.zip, client.Options{Legacy: true})
				if sub.Status != api.StatusRejected || !hasReason(sub, "duplicate", "already published") {
					t.Fatalf("republish (%s): status %s, reasons %+v; want rejected as duplicate", again.name, sub.Status, sub.Reasons)
				}
			}
			if _, body := s.Get(t, "/epr/cloudpkg/cloudpkg-1.0.0.zip"); !bytes.Equal(body, data) {
				t.Fatal("the published zip changed after refused republishes")
			}

			// A read-only replica on the same buckets serves the same package.
			replica := servertest.Start(t, servertest.Options{Key: s.Key, Configure: cloudStorage(publicURL, internalURL, true)})
			replica.WaitVisible(t, "cloudpkg", "1.0.0")
			if code, body := replica.Get(t, "/epr/cloudpkg/cloudpkg-1.0.0.zip"); code != 200 || !bytes.Equal(body, data) {
				t.Fatalf("replica download: %d, byte-identical=%v", code, bytes.Equal(body, data))
			}
		})
	}
}

// TestCloudPublishRaceTwoStores runs two stores on the same cloud buckets, as
// two machines would, and has both publish one NAME-VERSION at once with
// different bytes: exactly one is published, the other is refused as a
// duplicate, and both stores serve the winner's bytes.
func TestCloudPublishRaceTwoStores(t *testing.T) {
	for _, be := range storagetest.Backends {
		t.Run(be.Name, func(t *testing.T) {
			srv := be.Start(t)
			publicURL, internalURL := srv.NewBucket(t), srv.NewBucket(t)
			key := sigtest.NewKey(t, "publisher")
			stores := []*servertest.Store{
				servertest.Start(t, servertest.Options{Key: key, Configure: cloudStorage(publicURL, internalURL, false)}),
				servertest.Start(t, servertest.Options{Key: key, Configure: cloudStorage(publicURL, internalURL, false)}),
			}
			zips := [][]byte{
				ziptest.Package(t, "raced", "2.0.0", ziptest.Entry{Name: "from.txt", Body: []byte("store 0")}),
				ziptest.Package(t, "raced", "2.0.0", ziptest.Entry{Name: "from.txt", Body: []byte("store 1")}),
			}
			subs := make([]*api.Submission, len(stores))
			var wg sync.WaitGroup
			for i, s := range stores {
				wg.Add(1)
				go func() {
					defer wg.Done()
					subs[i] = s.Publish(t, "raced-2.0.0.zip", zips[i], client.Options{Legacy: true})
				}()
			}
			wg.Wait()
			winner := -1
			for i, sub := range subs {
				switch {
				case sub.Status == api.StatusPublished:
					if winner >= 0 {
						t.Fatalf("both stores published raced-2.0.0")
					}
					winner = i
				case sub.Status == api.StatusRejected && hasReason(sub, "duplicate", "raced-2.0.0"):
				default:
					t.Fatalf("store %d: status %s, reasons %+v", i, sub.Status, sub.Reasons)
				}
			}
			if winner < 0 {
				t.Fatal("neither store published raced-2.0.0")
			}
			for i, s := range stores {
				s.WaitVisible(t, "raced", "2.0.0")
				if code, body := s.Get(t, "/epr/raced/raced-2.0.0.zip"); code != 200 || !bytes.Equal(body, zips[winner]) {
					t.Errorf("store %d serves %d, winner's bytes=%v", i, code, bytes.Equal(body, zips[winner]))
				}
				if code, body := s.Get(t, "/package/raced/2.0.0/from.txt"); code != 200 || string(body) != "store "+strconv.Itoa(winner) {
					t.Errorf("store %d serves from.txt %d %q, want the winner's (store %d)", i, code, body, winner)
				}
			}
		})
	}
}
