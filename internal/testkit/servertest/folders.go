package servertest

import (
	"bytes"
	"context"
	"pkgstore/internal/api"
	"sync"
	"testing"
	"time"

	"pkgstore/internal/client"
	"pkgstore/internal/pkg/packageid"
)

// Zip is a package zip to publish.
type Zip struct {
	ID   packageid.ID
	Data []byte
}

// PublishZips signs each zip with the store's key, publishes it as legacy
// through the store's API, a few at a time, and waits until all are
// visible. Any refusal fails t.
func (s *Store) PublishZips(t testing.TB, zips []Zip) {
	t.Helper()
	subs := s.PublishAll(t, zips)
	for i, z := range zips {
		if subs[i].Status != api.StatusPublished {
			t.Fatalf("publish %s: %s %v", z.ID, subs[i].Status, subs[i].Reasons)
		}
	}
	for _, z := range zips {
		s.WaitVisible(t, z.ID.Name, z.ID.Version)
	}
}

// PublishAll signs each zip with the store's key, publishes it as legacy
// through the store's API, a few at a time, and returns the outcomes in
// order (published or refused). A failed request fails t.
func (s *Store) PublishAll(t testing.TB, zips []Zip) []*api.Submission {
	t.Helper()
	errs := make([]error, len(zips))
	subs := make([]*api.Submission, len(zips))
	sigs := make([][]byte, len(zips))
	for i, z := range zips {
		sigs[i] = s.Key.Sign(t, z.Data)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, z := range zips {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			subs[i], errs[i] = s.Client.Publish(ctx, z.ID.ZipName(), bytes.NewReader(z.Data), sigs[i], client.Options{Legacy: true})
		}()
	}
	wg.Wait()
	for i, z := range zips {
		if errs[i] != nil {
			t.Fatalf("publish %s: %v", z.ID, errs[i])
		}
	}
	return subs
}
