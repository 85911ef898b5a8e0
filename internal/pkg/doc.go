// Package pkg is the wing of the package format itself, with no I/O to
// buckets or networks:
//
//	packageid   NAME-VERSION rules, zip and folder names
//	archive     defensive zip opening (paths, links, sizes, ratios)
//	packagedoc  EPR's package documents (EPR 1.40.1's shape) read from manifests
//	mediatype   Content-Type of static files (EPR's rule)
//	signature   OpenPGP keyrings, detached signatures
//	validate    the package-spec validator
//	markdown    README and changelog rendered once for the catalog, under a
//	            CPU-time and output budget (goldmark, bluemonday, own files)
//
// Packages here import only the standard library, third-party parsers and
// each other (packageid and mediatype at the bottom); never a wing above
// (api is the only wing below).
package pkg
