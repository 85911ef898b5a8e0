package registry

import "pkgstore/internal/registry/catalog"

// CatalogForTest lets the benchmarks, which live in registry_test to use
// the real publishing job, time the catalog without the HTTP layer.
func (r *Registry) CatalogForTest() *catalog.Catalog { return r.current().cat }
