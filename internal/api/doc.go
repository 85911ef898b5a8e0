// Package api is the wing of wire types: the JSON documents that pkgstore's
// own HTTP APIs (publishing, governance) send and receive, shared by the
// handlers that write them and the clients that read them, and the named
// constants callers branch on (submission states, check names).
//
// The wing is a leaf: it imports only the standard library, so that a
// client (publish, mirror, sync-v1, the pull-through cache) can speak the
// protocol without linking the publishing job.
//
//	apijson  the JSON answers (indented body, error body) of those APIs
//
// internal/testkit's layering test holds the module to the list below: it
// reads the wings from it, lowest first.
//
// Wings, lowest first; a wing imports only wings before it:
//
//	api      wire types (this wing)
//	pkg      the package format: identity, archive, document, media types, signatures, validation
//	storage  the bucket layout, the Bucket interface and its drivers, local files
//	govern   tokens, provenance, the audit log, yanks
//	publish  the publishing job, the indexer, the publishing HTTP API, rate limits
//	builder  source package -> zip (elastic-package's build), READMEs, ECS
//	client   the publishing client, mirror, sync-v1, progress, the load generator
//	registry the EPR HTTP API, its catalog, the web catalog, proxy mode
//	server   composes a running store: wiring, logging, metrics
//	testkit  test-only helpers and the differential suites (imported by tests only)
package api
