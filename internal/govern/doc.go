// Package govern is the wing of who may do what and what was done:
//
//	tokens      named, scoped publishing tokens
//	audit       the write-once audit log
//	yank        withdrawing a revision without deleting it (PEP 592)
//	provenance  the provenance record of each published revision
//	translog    the transparency log (golang.org/x/mod/sumdb/tlog and note)
//	governapi   their HTTP API
//
// The wing imports api, pkg and storage. The registry's view of yanked
// revisions (registry.Yanked) lives in the registry wing.
package govern
