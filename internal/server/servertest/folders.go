package servertest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"pkgstore/internal/build"
	"pkgstore/internal/client"
	"pkgstore/internal/packageid"
	"pkgstore/internal/publish"
)

// PublishFolders zips every NAME/VERSION folder under dir (v1 layout, as
// `pkgstore build --v1` would), publishes each as legacy through the
// store's API, a few at a time, and waits until all are visible. Any
// refusal fails t. It returns the published revisions.
func (s *Store) PublishFolders(t testing.TB, dir string) []packageid.ID {
	t.Helper()
	type cand struct {
		id  packageid.ID
		zip []byte
	}
	var cands []cand
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		versions, err := os.ReadDir(filepath.Join(dir, n.Name()))
		if err != nil || !n.IsDir() {
			continue
		}
		for _, v := range versions {
			if !v.IsDir() {
				continue
			}
			var buf bytes.Buffer
			id, _, err := build.WriteV1(context.Background(), &buf, filepath.Join(dir, n.Name(), v.Name()))
			if err != nil {
				t.Fatalf("build %s/%s: %v", n.Name(), v.Name(), err)
			}
			cands = append(cands, cand{id, buf.Bytes()})
		}
	}
	errs := make([]error, len(cands))
	subs := make([]*publish.Submission, len(cands))
	sigs := make([][]byte, len(cands))
	for i, c := range cands {
		sigs[i] = s.Key.Sign(t, c.zip)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, c := range cands {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			subs[i], errs[i] = s.Client.Publish(ctx, c.id.ZipName(), bytes.NewReader(c.zip), sigs[i], client.Options{Legacy: true})
		}()
	}
	wg.Wait()
	ids := make([]packageid.ID, len(cands))
	for i, c := range cands {
		if errs[i] != nil {
			t.Fatalf("publish %s: %v", c.id, errs[i])
		}
		if subs[i].Status != publish.StatusPublished {
			t.Fatalf("publish %s: %s %v", c.id, subs[i].Status, subs[i].Reasons)
		}
		ids[i] = c.id
	}
	for _, id := range ids {
		s.WaitVisible(t, id.Name, id.Version)
	}
	return ids
}
