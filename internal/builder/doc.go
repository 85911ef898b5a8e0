// Package builder turns a package directory into the deterministic
// NAME-VERSION.zip the store accepts, the same files as elastic-package
// build: one root folder NAME-VERSION/, fixed timestamps and modes, lexical
// order, development material left out and *.link files replaced by the
// files they point at.
//
// Zips are streamed: file contents go from disk through the compressor to
// the destination writer and are never held in memory whole.
//
// It is also the wing of everything the build step needs, below it:
//
//	readme         README rendering from _dev/build/docs templates
//	ecs            ECS schemas (fetch, check, cache) and external: ecs fields
//	buildmanifest  _dev/build/build.yml
//
// The wing imports pkg and storage (local files); never publish, registry,
// client or server.
package builder
