package registry

import (
	"errors"
	"net/http"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"pkgstore/internal/govern/translog"
	"pkgstore/internal/pkg/packageid"
)

// LogPrefix is where the transparency log is served.
const LogPrefix = "/api/v1/log/"

// LogHandler serves the transparency log read-only, as the Go checksum
// database serves its own: /latest (the signed tree head), /lookup/N@V
// (record id, record text, blank line, signed tree head) and /tile/...
// (hash and data tiles at tlog's paths, partial ones with .p/W). Tiles
// never change once the tree holds them: they are cached forever.
func LogHandler(l *translog.Log) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		ctx := r.Context()
		rest := strings.TrimPrefix(r.URL.Path, LogPrefix)
		switch {
		case rest == "latest":
			head, err := l.Latest(ctx)
			if err != nil {
				logError(w, err)
				return
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Cache-Control", "no-cache")
			w.Write(head.Signed)
		case strings.HasPrefix(rest, "lookup/"):
			name, version, ok := strings.Cut(strings.TrimPrefix(rest, "lookup/"), "@")
			id := packageid.ID{Name: name, Version: version}
			if !ok || id.Validate() != nil {
				http.Error(w, "want /api/v1/log/lookup/NAME@VERSION", http.StatusBadRequest)
				return
			}
			n, text, head, err := l.Lookup(ctx, translog.PublishKey(id))
			if err != nil {
				logError(w, err)
				return
			}
			msg, err := tlog.FormatRecord(n, text)
			if err != nil {
				logError(w, errors.Join(translog.ErrCorrupt, err))
				return
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Cache-Control", "no-cache")
			w.Write(msg)
			w.Write(head.Signed)
		case strings.HasPrefix(rest, "tile/"):
			t, err := tlog.ParseTilePath(rest)
			if err != nil || t.H != translog.Height {
				http.Error(w, "invalid tile path", http.StatusBadRequest)
				return
			}
			data, err := l.Tile(ctx, t)
			if err != nil {
				logError(w, err)
				return
			}
			if t.L < 0 {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			} else {
				w.Header().Set("Content-Type", "application/octet-stream")
			}
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			w.Write(data)
		default:
			http.NotFound(w, r)
		}
	})
}

// logError answers what is not in the log with 404 and everything else
// (a bucket that cannot be read, a log that contradicts itself) with 500.
func logError(w http.ResponseWriter, err error) {
	if errors.Is(err, translog.ErrNotFound) || errors.Is(err, translog.ErrNoLog) {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	http.Error(w, err.Error(), http.StatusInternalServerError)
}
