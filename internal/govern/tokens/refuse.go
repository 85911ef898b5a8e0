package tokens

import (
	"errors"
	"net/http"

	"pkgstore/internal/api/apijson"
)

// Refuse answers an authorization error as pkgstore's APIs do: 401 with a
// Bearer challenge without a token (ErrMissing), 403 for a token that may
// not do this. This package's errors are safe to show the client.
func Refuse(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrMissing) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="pkgstore"`)
		apijson.Error(w, http.StatusUnauthorized, "%v", err)
		return
	}
	apijson.Error(w, http.StatusForbidden, "%v", err)
}
