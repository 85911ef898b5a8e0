package ui

import (
	"html/template"

	"pkgstore/internal/pkg/markdown"
)

// rendered is a README as a page shows it (markdown.Result, with its HTML
// typed as safe: the renderer sanitised it).
type rendered struct {
	HTML    template.HTML
	Plain   string // the source, shown as text when it was not rendered
	Reason  string // why it was not rendered
	Dropped int    // images removed because they were not the package's own
	Problem string // why nothing was rendered ("" when HTML is set)
}

func fromResult(r *markdown.Result) rendered {
	if r == nil {
		return rendered{}
	}
	return rendered{HTML: template.HTML(r.HTML), Plain: r.Plain, Reason: r.Reason, Dropped: r.Dropped, Problem: r.Problem}
}
