package tokens

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"pkgstore/internal/api"
)

func TestRefuse(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		code      int
		challenge string
	}{
		{"no token", ErrMissing, http.StatusUnauthorized, `Bearer realm="pkgstore"`},
		{"no token, wrapped", fmt.Errorf("check: %w", ErrMissing), http.StatusUnauthorized, `Bearer realm="pkgstore"`},
		{"unknown token", ErrUnknown, http.StatusForbidden, ""},
		{"refused scope", &Refusal{Token: "ci", Scope: ScopeYank}, http.StatusForbidden, ""},
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
			var body api.ErrorBody
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error != tc.err.Error() {
				t.Errorf("body %q (%v), want error %q", w.Body.String(), err, tc.err.Error())
			}
		})
	}
}
