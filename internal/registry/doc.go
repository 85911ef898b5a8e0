// Package registry is the HTTP handler of the Elastic Package Registry API
// (epr-api.md is the contract) over our buckets: /search and /categories
// answered from an in-memory catalog of the index, package documents from
// the same catalog, artifacts and static files streamed from the public
// bucket. It also keeps the catalog in step with the index cursor, and
// keeps serving what is pinned to yanked revisions (Yanked).
//
// It is also the wing of everything that serves readers:
//
//	catalog  EPR's search semantics over the index, in memory
//	httpenc  precompressed bodies, Accept-Encoding negotiation, ETags
//	ui       the web catalog at /ui/
//	proxy    EPR's proxy mode and the pull-through cache
//	pkgpath  EPR's package_paths: zips and NAME/VERSION/ folders served in place
//
// The wing imports api, pkg, storage, govern, publish/index (the index
// format) and client (the proxy fetches from upstream as mirror does).
package registry
