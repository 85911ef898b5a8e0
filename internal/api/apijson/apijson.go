// Package apijson writes the JSON answers of pkgstore's own HTTP APIs
// (publishing, governance): one encoding, one error body, one way of
// refusing a bearer token, so every API answers alike.
package apijson

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"pkgstore/internal/govern/tokens"
)

// ErrorBody is the JSON of every error answer.
type ErrorBody struct {
	Error string `json:"error"`
}

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

// Refuse answers an authorization error: 401 with a Bearer challenge
// without a token (tokens.ErrMissing), 403 for a token that may not do
// this. The tokens package's errors are safe to show the client.
func Refuse(w http.ResponseWriter, err error) {
	if errors.Is(err, tokens.ErrMissing) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="pkgstore"`)
		Error(w, http.StatusUnauthorized, "%v", err)
		return
	}
	Error(w, http.StatusForbidden, "%v", err)
}
