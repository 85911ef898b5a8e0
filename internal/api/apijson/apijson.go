// Package apijson writes the JSON answers of pkgstore's own HTTP APIs
// (publishing, governance): one encoding and one error body, so every API
// answers alike. (Refusing a bearer token is tokens.Refuse.)
package apijson

import (
	"encoding/json"
	"fmt"
	"net/http"

	"pkgstore/internal/api"
)

// ErrorBody is the JSON of every error answer.
type ErrorBody = api.ErrorBody

// Write answers v as indented JSON with status code, never cached.
func Write(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// Error answers an ErrorBody with status code.
func Error(w http.ResponseWriter, code int, format string, args ...any) {
	Write(w, code, ErrorBody{Error: fmt.Sprintf(format, args...)})
}
