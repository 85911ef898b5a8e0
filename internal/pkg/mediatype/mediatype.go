// Package mediatype says which Content-Type a package's static file has, as
// the reference EPR decides it: its own registrations for .zip, .ico, .md
// and .yml, then Go's MIME table (with the system's mime.types), then, for
// an unknown extension, content sniffing of the first 512 bytes (what
// http.ServeContent does). The publisher stores objects with this type and
// the registry serves it, so that Fleet sees one type whether the reference
// reads a zip, or our bucket through its storage indexer (which relays the
// stored type), or our registry answers.
package mediatype

import (
	"mime"
	"net/http"
	"path"
	"strings"
)

// SniffLen is how many leading bytes ForFile needs for sniffing.
const SniffLen = 512

// eprTypes are EPR's own MIME registrations (mime_types.go).
var eprTypes = map[string]string{
	".zip": "application/zip",
	".ico": "image/x-icon",
	".md":  "text/markdown; charset=utf-8",
	".yml": "text/yaml; charset=UTF-8",
}

// ByExtension returns the type of name from its extension, or "" when the
// extension is unknown (the content decides).
func ByExtension(name string) string {
	ext := path.Ext(name)
	if t, ok := eprTypes[strings.ToLower(ext)]; ok {
		return t
	}
	return mime.TypeByExtension(ext)
}

// ForFile returns the type of name, sniffing head (the file's first
// SniffLen bytes, or all of a shorter file) when the extension is unknown.
func ForFile(name string, head []byte) string {
	if t := ByExtension(name); t != "" {
		return t
	}
	return http.DetectContentType(head)
}
