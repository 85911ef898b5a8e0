package ui

import (
	"context"
	"errors"
	"strings"

	"golang.org/x/net/html"

	"pkgstore/internal/pkg/markdown"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/storage"
)

// Bounds of the exported field names kept for searching: per revision
// (the largest real integrations list a few thousand fields, some 100 KB
// of names; a hostile README's 3 MiB of rendering is cut here), and the
// revisions kept, so the cache holds 64 MiB at the very most.
const (
	maxFieldBytes = 64 << 10
	maxFieldsKept = 1024
)

// exportedFields returns the lower-case names in the first column of the
// exported-fields tables of a rendered README (tables whose first header
// cell is "Field", as elastic-package writes them), NUL-separated for
// searching.
func exportedFields(rendered string) string {
	z := html.NewTokenizer(strings.NewReader(rendered))
	var (
		names       []string
		size        int // bytes of names, separators included
		inTable     bool
		headerSeen  bool // the table's first header cell has been read
		fieldsTable bool
		capture     bool // inside the cell being read
		cell        int  // cells of the current row so far
		text        strings.Builder
	)
	for {
		switch z.Next() {
		case html.ErrorToken:
			return strings.ToLower(strings.Join(names, "\x00"))
		case html.StartTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "table":
				inTable, headerSeen, fieldsTable = true, false, false
			case "tr":
				cell = 0
			case "th", "td":
				cell++
				first := inTable && cell == 1
				capture = first && (!headerSeen && string(name) == "th" || fieldsTable && string(name) == "td")
				text.Reset()
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "table":
				inTable, fieldsTable, capture = false, false, false
			case "th":
				if capture {
					headerSeen, fieldsTable = true, strings.TrimSpace(text.String()) == "Field"
				}
				capture = false
			case "td":
				if capture {
					if n := strings.TrimSpace(text.String()); n != "" {
						if size += len(n) + 1; size > maxFieldBytes {
							// A README listing more than a search keeps:
							// the first names stay searchable.
							return strings.ToLower(strings.Join(names, "\x00"))
						}
						names = append(names, n)
					}
				}
				capture = false
			}
		case html.TextToken:
			if capture {
				text.Write(z.Text())
			}
		}
	}
}

// fieldMatch reports whether needle occurs in one of the NUL-separated
// names where a word of it starts: at the start of a name or after '.',
// '_', '-' or '@'. "uptime" finds apache.status.uptime, "quux_lat" finds
// other.quux_latency_ms, but "good" does not find LastBootGood: a README
// can list thousands of fields, and matching inside words would put
// packages in results for letters they only happen to contain.
func fieldMatch(names, needle string) bool {
	for from := 0; ; {
		i := strings.Index(names[from:], needle)
		if i < 0 {
			return false
		}
		i += from
		if i == 0 || strings.IndexByte("\x00._-@", names[i-1]) >= 0 {
			return true
		}
		from = i + 1
	}
}

// fieldNames returns the exported field names of ids' READMEs, from the
// records the publishing job stored (a revision whose record is not there
// yet has none until its page renders one). A record that cannot be read
// sets failed.
func (h *Handler) fieldNames(ctx context.Context, ids []packageid.ID) (map[packageid.ID]string, bool) {
	if h.cfg.Internal == nil {
		return map[packageid.ID]string{}, false
	}
	return h.fields.get(ctx, ids, func(ctx context.Context, id packageid.ID) (string, error) {
		rec, err := h.storedRecord(ctx, id)
		switch {
		case storage.IsNotFound(err) || errors.Is(err, markdown.ErrFormat):
			return "", nil
		case err != nil:
			h.log.Warn("rendered package text unavailable", "package", id.String(), "err", err)
			return "", err
		case rec.Readme == nil:
			return "", nil
		}
		return exportedFields(rec.Readme.HTML), nil
	})
}
