// Package publish is the publishing job (architecture.md §4): candidates
// wait in the internal bucket's queue; workers verify name, signature, zip
// and package-spec, then write static files, signature and package document
// to the buckets and the zip last, only if absent, so that "the zip exists"
// means "published, completely". Serve runs the job all the time (Run);
// `pkgstore job publish` runs it once over the queue (Drain), and
// `pkgstore publish --queue` feeds the queue without a server (Queue).
//
// It is also the wing of what publishing needs around the job:
//
//	index       the index format (search-index-all.json, cursor) and the indexer
//	publishapi  the publishing HTTP API (POST /api/v1/publish, status)
//	ratelimit   per-key token buckets
//
// The wing imports api, pkg, storage and govern; never registry, client or
// server.
package publish
