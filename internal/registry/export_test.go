package registry

import "pkgstore/internal/registry/catalog"

// CatalogForTest lets the benchmarks, which live in registry_test to use
// the real publishing job, time the catalog without the HTTP layer.
func (r *Registry) CatalogForTest() *catalog.Catalog { return r.current().cat }

// SearchCachedForTest reports whether the /search body of the raw query
// string q is in the current snapshot's cache.
func (r *Registry) SearchCachedForTest(q string) bool {
	_, ok := r.current().search.get(q)
	return ok
}
