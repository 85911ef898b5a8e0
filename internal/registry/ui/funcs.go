package ui

import (
	"fmt"
	"html/template"
	"strings"
)

var funcs = template.FuncMap{
	"size": humanSize,
	"join": strings.Join,
	"add":  func(a, b int) int { return a + b },
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
