// Package storage is the wing of where bytes live. This package holds the
// object layout of both buckets (layout.go: every key, in one file) and
// opens the public and internal buckets; it adds the one operation the
// store needs beyond plain reads and writes: a create-if-absent that holds
// across processes and machines.
//
// Below it:
//
//	rawfile     files opened, read and written through bare descriptors
//	atomicfile  replace a local file atomically
//
// The wing imports only pkg/packageid; it is the only wing that imports
// gocloud.dev.
package storage
