// Package governapi is the HTTP API of store governance: the audit log
// (GET /api/v1/audit, scope audit), yanking (POST /api/v1/yank and
// /api/v1/unyank, scope yank) and a revision's provenance and yank state
// (GET /api/v1/packages/{name}/{version}, scope audit).
package governapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/api/apijson"
	"pkgstore/internal/govern/audit"
	"pkgstore/internal/govern/provenance"
	"pkgstore/internal/govern/tokens"
	"pkgstore/internal/govern/yank"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/storage"
)

// Checker authorizes requests (tokens.Store).
type Checker interface {
	Check(r *http.Request, scope tokens.Scope, pkg string) (*tokens.Token, error)
}

// Config of the API.
type Config struct {
	Auth    Checker
	Audit   *audit.Log
	Yanks   *yank.Store
	Buckets *storage.Buckets
	Logger  *slog.Logger
}

// API serves the governance routes.
type API struct {
	cfg Config
	mux *http.ServeMux
	now func() time.Time
}

// New returns the API handler.
func New(cfg Config) *API {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &API{cfg: cfg, mux: http.NewServeMux(), now: time.Now}
	a.mux.HandleFunc("GET /api/v1/audit", a.audit)
	a.mux.HandleFunc("POST /api/v1/yank", a.yank(true))
	a.mux.HandleFunc("POST /api/v1/unyank", a.yank(false))
	a.mux.HandleFunc("GET /api/v1/packages/{name}/{version}", a.revision)
	return a
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// check authorizes r and answers the refusal itself (nil token).
func (a *API) check(w http.ResponseWriter, r *http.Request, scope tokens.Scope, pkg string) *tokens.Token {
	t, err := a.cfg.Auth.Check(r, scope, pkg)
	if err != nil {
		tokens.Refuse(w, err)
		return nil
	}
	return t
}

// ParseTime reads a query bound: RFC 3339, a date (2026-12-01, UTC) or an
// age relative to now (36h, 7d).
func ParseTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use RFC 3339 (2026-12-01T10:00:00Z), a date (2026-12-01) or an age (36h, 7d)", s)
}

func (a *API) audit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "package", "version", "token", "event", "since", "until", "cursor", "limit":
		default:
			apijson.Error(w, http.StatusBadRequest, "unknown query parameter %q (expected package, version, token, event, since, until, cursor, limit)", k)
			return
		}
	}
	t := a.check(w, r, tokens.ScopeAudit, q.Get("package"))
	if t == nil {
		return
	}
	aq := audit.Query{Package: q.Get("package"), Version: q.Get("version"), Token: q.Get("token"), Cursor: q.Get("cursor"), Allow: t.Matches}
	var err error
	if aq.Event, err = audit.ParseEvent(q.Get("event")); err != nil {
		apijson.Error(w, http.StatusBadRequest, "%v", err)
		return
	}
	now := a.now()
	if aq.Since, err = ParseTime(q.Get("since"), now); err != nil {
		apijson.Error(w, http.StatusBadRequest, "since: %v", err)
		return
	}
	if aq.Until, err = ParseTime(q.Get("until"), now); err != nil {
		apijson.Error(w, http.StatusBadRequest, "until: %v", err)
		return
	}
	if l := q.Get("limit"); l != "" {
		if aq.Limit, err = strconv.Atoi(l); err != nil || aq.Limit < 1 || aq.Limit > audit.MaxLimit {
			apijson.Error(w, http.StatusBadRequest, "limit must be a number from 1 to %d, got %q", audit.MaxLimit, l)
			return
		}
	}
	page, err := a.cfg.Audit.Query(r.Context(), aq)
	if err != nil {
		if errors.Is(err, audit.ErrBadCursor) {
			apijson.Error(w, http.StatusBadRequest, "%v", err)
			return
		}
		a.cfg.Logger.Error("audit query", "err", err)
		apijson.Error(w, http.StatusInternalServerError, "audit query: %v", err)
		return
	}
	apijson.Write(w, http.StatusOK, page)
}

// The request and response bodies are api's.
type (
	YankRequest  = api.YankRequest
	YankResponse = api.YankResponse
	RevisionInfo = api.RevisionInfo
)

func (a *API) yank(doYank bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req YankRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			apijson.Error(w, http.StatusBadRequest, `expected a JSON body {"name": "...", "version": "...", "reason": "..."}: %v`, err)
			return
		}
		id := packageid.ID{Name: req.Name, Version: req.Version}
		if err := id.Validate(); err != nil {
			apijson.Error(w, http.StatusBadRequest, "%v", err)
			return
		}
		t := a.check(w, r, tokens.ScopeYank, id.Name)
		if t == nil {
			return
		}
		st, changed, err := a.cfg.Yanks.Set(r.Context(), yank.Change{ID: id, Yank: doYank, Reason: req.Reason, Token: t.Name, Client: tokens.ClientAddr(r)})
		switch {
		case errors.Is(err, yank.ErrNotPublished):
			apijson.Error(w, http.StatusNotFound, "%v", err)
		case errors.Is(err, yank.ErrBadReason):
			apijson.Error(w, http.StatusBadRequest, "%v", err)
		case err != nil:
			a.cfg.Logger.Error("yank", "package", id.String(), "err", err)
			apijson.Error(w, http.StatusInternalServerError, "%v", err)
		default:
			a.cfg.Logger.Info("yank state changed", "package", id.String(), "yanked", st.Yanked, "changed", changed, "token", t.Name)
			apijson.Write(w, http.StatusOK, YankResponse{State: st, Changed: changed})
		}
	}
}

func (a *API) revision(w http.ResponseWriter, r *http.Request) {
	id := packageid.ID{Name: r.PathValue("name"), Version: r.PathValue("version")}
	if err := id.Validate(); err != nil {
		apijson.Error(w, http.StatusBadRequest, "%v", err)
		return
	}
	if a.check(w, r, tokens.ScopeAudit, id.Name) == nil {
		return
	}
	ctx := r.Context()
	info := RevisionInfo{Name: id.Name, Version: id.Version}
	var err error
	if info.Published, err = a.cfg.Buckets.Public.Exists(ctx, storage.ZipKey(id)); err != nil {
		apijson.Error(w, http.StatusInternalServerError, "check %s: %v", id, err)
		return
	}
	if !info.Published {
		apijson.Error(w, http.StatusNotFound, "%s is not published", id)
		return
	}
	rev, err := provenance.Read(ctx, a.cfg.Buckets.Internal, id)
	switch {
	case err == nil:
		info.Revision = rev
	case !storage.IsNotFound(err):
		apijson.Error(w, http.StatusInternalServerError, "%v", err)
		return
	}
	if info.History, err = a.cfg.Yanks.History(ctx, id); err != nil {
		apijson.Error(w, http.StatusInternalServerError, "%v", err)
		return
	}
	if n := len(info.History); n > 0 {
		info.Yank = &info.History[n-1]
		info.Yanked = info.Yank.Yanked
	}
	apijson.Write(w, http.StatusOK, info)
}
