package apijson

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"pkgstore/internal/govern/tokens"
)

func TestRefuse(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		code      int
		challenge string
	}{
		{"no token", tokens.ErrMissing, http.StatusUnauthorized, `Bearer realm="pkgstore"`},
		{"no token, wrapped", fmt.Errorf("check: %w", tokens.ErrMissing), http.StatusUnauthorized, `Bearer realm="pkgstore"`},
		{"unknown token", tokens.ErrUnknown, http.StatusForbidden, ""},
		{"refused scope", &tokens.Refusal{Token: "ci", Scope: tokens.ScopeYank}, http.StatusForbidden, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			Refuse(w, tc.err)
			if w.Code != tc.code {
				t.Errorf("status %d, want %d", w.Code, tc.code)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
			var body ErrorBody
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error != tc.err.Error() {
				t.Errorf("body %q (%v), want error %q", w.Body.String(), err, tc.err.Error())
			}
		})
	}
}

func TestWrite(t *testing.T) {
	w := httptest.NewRecorder()
	Write(w, http.StatusCreated, map[string]string{"a": "<b> & c"})
	if w.Code != http.StatusCreated {
		t.Errorf("status %d, want 201", w.Code)
	}
	if ct, cc := w.Header().Get("Content-Type"), w.Header().Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
		t.Errorf("Content-Type %q, Cache-Control %q", ct, cc)
	}
	if want := "{\n  \"a\": \"<b> & c\"\n}\n"; w.Body.String() != want {
		t.Errorf("body %q, want %q (indented, HTML not escaped)", w.Body.String(), want)
	}
	w = httptest.NewRecorder()
	Error(w, http.StatusBadRequest, "bad %s", "cursor")
	if w.Code != http.StatusBadRequest || w.Body.String() != "{\n  \"error\": \"bad cursor\"\n}\n" {
		t.Errorf("Error: %d %q", w.Code, w.Body.String())
	}
}
