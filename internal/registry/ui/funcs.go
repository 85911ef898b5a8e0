package ui

import (
	"fmt"
	"html/template"
	"strings"
	"time"
)

var funcs = template.FuncMap{
	"size": humanSize,
	"join": strings.Join,
	"add":  func(a, b int) int { return a + b },
	"n":    count,
	"day":  func(t time.Time) string { return t.UTC().Format("2 January 2006") },
	"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"when": func(t time.Time) string { return t.UTC().Format("2 January 2006, 15:04 UTC") },
}

// count writes n with the singular or plural form of a noun: "1 version",
// "2 versions", "0 packages". plural is singular+"s" when empty; a noun
// such as "image that is" passes both forms.
func count(n int, singular string, plural ...string) string {
	if n == 1 {
		return "1 " + singular
	}
	if len(plural) > 0 {
		return fmt.Sprintf("%d %s", n, plural[0])
	}
	return fmt.Sprintf("%d %ss", n, singular)
}

// humanSize writes a byte count in binary units, with the exact count for
// sizes under a kilobyte.
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
