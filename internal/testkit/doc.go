// Package testkit is the wing of test-only code: helpers that tests and
// benchmarks import, and the differential suites that compare pkgstore
// with Elastic's own programs. Nothing outside a _test.go file imports it.
//
//	eprtest             runs the reference EPR (../shared/reference/epr)
//	elasticpackagetest  runs the reference elastic-package, compares builds
//	eprdiff             differential tests against the reference EPR
//	gentest             seeded generator of varied packages
//	prodcorpus          the 10,775-revision production-size store, cached
//	sharedtest          the shared test data (../shared/testdata), unpacked
//	servertest          real stores on loopback
//	hostiletest         a hostile upstream registry (endless, dripping zips)
//	htmltest            what must never be in HTML made from package text
//	storagetest         real cloud bucket servers (MinIO, fake-gcs-server)
//	nodetest            the pinned Node.js programs (Azurite, openpgp.js)
//	logtest             transparency-log keys
//	drivertest          the conformance suite of storage drivers
//	ziptest, sigtest, gpgtest, treetest, buftest, processtest, catalogbench
//	                    zips, OpenPGP keys, GnuPG, folder trees, log
//	                    buffers, process-wide fixtures, index-load figures
//
// Packages here may import every wing.
package testkit
