// Package govern is the wing of who may do what and what was done:
//
//	tokens     named, scoped publishing tokens
//	audit      the write-once audit log
//	yank       withdrawing a revision without deleting it (PEP 592)
//	governapi  their HTTP API
//
// The wing imports api, pkg and storage.
package govern
