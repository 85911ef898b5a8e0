// Package storage is the wing of where bytes live. This package holds the
// object layout of both buckets (layout.go: every key, in one file) and
// the portable *Bucket every other wing uses: reads (with size and
// modification time), writes, existence, attributes, listings, deletes, a
// create-if-absent that holds across processes and machines, staged
// objects committed later (Stage, StageFile), trees of objects that appear
// at once (Tree), Sync, OpenLocal. Open, OpenDir and OpenURL pick the
// driver: folders (--data, file:// URLs) or cloud buckets (gs://, s3://,
// azblob://, mem://); writers create missing folders, readers
// (Config.MustExist, OpenDirExisting) refuse them. Errors of absent keys
// match ErrNotExist (IsNotFound), refused creations ErrExists.
//
// The packages of the wing, and what each may import:
//
//	storage     layout, portable Bucket, Open: driver, fsdriver, blobdriver, pkg/packageid
//	driver      the driver contract (interface, options, attributes, sentinel errors): the standard library only
//	fsdriver    folders: keys mapped to paths as gocloud's fileblob maps them, link(2)
//	            create-if-absent, O_TMPFILE staging, trees renamed into place, group-committed
//	            syncfs, listings that hide temporaries: driver, rawfile, golang.org/x/sys
//	blobdriver  GCS, S3, Azure and memory through gocloud.dev/blob, with native preconditions: driver, gocloud.dev
//	rawfile     files opened, read and written through bare descriptors (also used by the builder)
//	atomicfile  replace a local file atomically
//
// The conformance suite of drivers is internal/testkit/drivertest.
// blobdriver is the only package of the module that imports gocloud.dev
// (fsdriver's tests import gocloud's fileblob to compare with it).
package storage
