package ui

import (
	"html/template"
	"strings"

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
	return rendered{HTML: template.HTML(markFieldTables(r.HTML)), Plain: r.Plain, Reason: r.Reason, Dropped: r.Dropped, Problem: r.Problem}
}

// fieldsTableOpen is how the renderer writes the start of a table whose
// first column is headed "Field": elastic-package's exported-fields tables.
const fieldsTableOpen = "<table>\n<thead>\n<tr>\n<th>Field</th>"

// markFieldTables gives exported-fields tables the class "fields", which
// the style sheet lays out for long dotted names (monospace, never broken
// inside a name, the table scrolling sideways instead). Only a fixed
// attribute is inserted into the sanitised HTML, before a fixed string.
func markFieldTables(html string) string {
	return strings.ReplaceAll(html, fieldsTableOpen, `<table class="fields">`+fieldsTableOpen[len("<table>"):])
}
