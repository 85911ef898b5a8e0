package server

import (
	"context"
	"errors"
	"net/http"

	"pkgstore/internal/govern/audit"
	"pkgstore/internal/govern/tokens"
	"pkgstore/internal/publish/ratelimit"
)

// newTokens loads the store's tokens and records refused requests in the
// audit log (the token's name, never its secret): a named token's through
// refusals (a bounded rate, the rest counted in summaries), an unknown
// secret's within unknownTokenLimit.
func newTokens(cfg Config, refusals *audit.Refusals) (*tokens.Store, error) {
	ts, err := tokens.NewStore(cfg.TokensFile, cfg.Tokens, cfg.Logger)
	if err != nil {
		return nil, err
	}
	unknown := newUnknownTokenLimit()
	ts.OnRefused = func(r *http.Request, name string, scope tokens.Scope, pkg string, err error) {
		rec := audit.Record{Event: audit.TokenRefused, Token: name, Client: tokens.ClientAddr(r), Action: string(scope), Reasons: []string{err.Error()}}
		if pkg != "" && audit.KeySafe(pkg) {
			rec.Package = pkg
		}
		var ref *tokens.Refusal
		if !errors.As(err, &ref) && !errors.Is(err, tokens.ErrUnknown) {
			return // no token at all: not worth a record
		}
		if errors.Is(err, tokens.ErrUnknown) && !unknown.allow(rec.Client) {
			// Anyone can send a made-up secret: each would otherwise be
			// a permanent object in the bucket.
			cfg.Logger.Warn("unknown token refused (audit record skipped: too many)", "client", rec.Client, "scope", string(scope))
			return
		}
		// The request's own context may end with it; the record must not.
		recorded, err := refusals.Record(context.WithoutCancel(r.Context()), rec)
		if err != nil {
			cfg.Logger.Error("record refused token", "token", name, "err", err)
		} else if !recorded {
			cfg.Logger.Debug("token refused (counted for the next token_refusals_suppressed record)", "token", name, "client", rec.Client, "scope", string(scope))
		}
	}
	return ts, nil
}

// Audit records of requests with an unknown secret are bounded per client
// and in all, so that a loop of made-up secrets cannot grow the internal
// bucket without limit; known tokens' refusals are bounded per token by
// audit.Refusals.
const (
	unknownPerClientPerMinute = 6
	unknownPerClientBurst     = 10
	unknownPerMinute          = 120
)

type unknownTokenLimit struct{ perClient, overall *ratelimit.Limiter }

func newUnknownTokenLimit() unknownTokenLimit {
	return unknownTokenLimit{
		perClient: ratelimit.New(unknownPerClientPerMinute, unknownPerClientBurst),
		overall:   ratelimit.New(unknownPerMinute, unknownPerMinute),
	}
}

func (u unknownTokenLimit) allow(client string) bool {
	if ok, _ := u.perClient.Allow(client); !ok {
		return false
	}
	ok, _ := u.overall.Allow("")
	return ok
}
