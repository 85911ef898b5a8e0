package eprdiff_test

import (
	"testing"

	"pkgstore/internal/server"
	"pkgstore/internal/testkit/eprdiff"
	"pkgstore/internal/testkit/fleettest"
	"pkgstore/internal/testkit/sigtest"
)

// TestStoragePathStoreKey (issue 24, item 1): with a store key, the
// reference EPR's storage indexer reads our buckets unchanged: it serves
// every zip and its .zip.sig as we do, and Kibana Fleet's own
// verification (openpgp.js) with the store's key alone passes for what
// the reference serves.
func TestStoragePathStoreKey(t *testing.T) {
	c := eprPackages(t)
	pkgs := c.Packages[:8]
	store := sigtest.NewKey(t, "store")
	s := eprdiff.StartStorage(t, c, eprdiff.Options{Legacy: true, Configure: func(cfg *server.Config) { cfg.StoreKey = store.Signer }}, pkgs, eprdiff.StorageModes[:1])
	p := s.Pairs[0]
	revs := p.Revisions()
	reqs := append(eprdiff.Artifacts(revs), eprdiff.Documents(revs)...)
	rep := p.Compare(t, eprdiff.GetOrHead(reqs))
	rep.Corpus = "store-key/plain"
	t.Log(rep)
	rep.Expect(t, eprdiff.Known{}) // artifacts and documents: every one identical
	var urls []string
	for _, r := range revs {
		urls = append(urls, p.Ref.URL+"/epr/"+r.ID.Name+"/"+r.ID.ZipName())
	}
	fleettest.AllVerified(t, "the reference EPR over a store-signed bucket", store.PublicPath, urls...)
}
