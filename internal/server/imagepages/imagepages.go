// Package imagepages gives back the executable's read-only pages that the
// package initialisers touched and the program may never touch again.
//
// Go runs every linked package's initialiser before main, whether the
// process ends up using that package or not. pkgstore links three cloud
// storage SDKs (GCS over gRPC and protobuf, the AWS SDK, Azure), and their
// initialisers read code and read-only data scattered over the binary; the
// kernel maps the page cache's pages around every fault (64 KB at a time),
// so right after the initialisers about 40 MB of the executable file are
// resident, most of them for code no serve over a folder or a filesystem
// store ever runs again. They are clean file-backed pages: dropping them
// from the process's page tables (madvise MADV_DONTNEED) loses nothing,
// and a page needed again is mapped again from the page cache (or read
// from the file) on its next access. Writable mappings (the data and bss
// segments, the heap) are never touched: dropping a written private page
// would lose what was written.
//
// The measurements that led to this are in docs/benchmarks.md ("Package
// paths at the distribution image's size").
package imagepages
