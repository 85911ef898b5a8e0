package server

import (
	"context"
	"errors"
	"net/http"

	"pkgstore/internal/audit"
	"pkgstore/internal/tokens"
)

// newTokens loads the store's tokens and records every refused request in
// the audit log (the token's name, never its secret).
func newTokens(cfg Config, log *audit.Log) (*tokens.Store, error) {
	ts, err := tokens.NewStore(cfg.TokensFile, cfg.Tokens, cfg.Logger)
	if err != nil {
		return nil, err
	}
	ts.OnRefused = func(r *http.Request, name string, scope tokens.Scope, pkg string, err error) {
		rec := audit.Record{Event: audit.TokenRefused, Token: name, Client: tokens.ClientAddr(r), Action: string(scope), Reasons: []string{err.Error()}}
		if pkg != "" && audit.KeySafe(pkg) {
			rec.Package = pkg
		}
		var ref *tokens.Refusal
		if !errors.As(err, &ref) && !errors.Is(err, tokens.ErrUnknown) {
			return // no token at all: not worth a record
		}
		// The request's own context may end with it; the record must not.
		if _, err := log.Append(context.WithoutCancel(r.Context()), rec); err != nil {
			cfg.Logger.Error("record refused token", "token", name, "err", err)
		}
	}
	return ts, nil
}
