// Package client talks to a pkgstore server: the "already published?" check
// every publisher does first, and the publishing API. PublishLegacy is the
// one way to publish a revision that exists elsewhere (a duplicate counts
// as success), for mirror, sync-v1 and the pull-through cache.
//
// It is also the wing of everything that runs against a store from outside:
//
//	mirror    copy revisions from an EPR-compatible registry, offline bundles
//	          (whole or incremental), OCI registries, import
//	syncv1    migrate a Package Storage v1 checkout
//	progress  progress bars and plain lines
//	loadtest  Fleet's request mix against a registry
//	logcheck  proofs against a store's transparency log (verify, mirror, import, log monitor)
//
// The wing imports api, pkg, storage (layout only), govern/translog (the
// log's record format) and builder; never
// publish, registry or server: a client speaks the wire types of api.
package client
