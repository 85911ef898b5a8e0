// Package publishapi is the HTTP front of the publishing job:
// POST /api/v1/publish queues a candidate, GET /api/v1/publish/{id} reports
// its outcome. Both need a bearer token.
package publishapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"pkgstore/internal/apijson"
	"pkgstore/internal/packageid"
	"pkgstore/internal/publish"
	"pkgstore/internal/signature"
	"pkgstore/internal/tokens"
)

// Config of the API.
type Config struct {
	Publisher *publish.Publisher
	// Tokens that may publish, as unnamed all-packages publish tokens;
	// used when Auth is nil. With neither, publishing is disabled (403).
	Tokens []string
	// Auth decides which token may publish which package.
	Auth Authorizer
	// MaxUploadSize bounds a request body (zip + signature + form).
	MaxUploadSize int64
	Logger        *slog.Logger
}

// Authorizer checks a request's bearer token for a scope on a package
// ("" before the package is known). It returns the token's name, or
// tokens.ErrDisabled, tokens.ErrMissing, tokens.ErrUnknown or a
// *tokens.Refusal, whose messages are safe to show the client.
type Authorizer interface {
	Authorize(r *http.Request, scope tokens.Scope, pkg string) (name string, err error)
}

// API serves the publishing routes.
type API struct {
	cfg Config
	mux *http.ServeMux
}

// New returns the API handler.
func New(cfg Config) *API {
	if cfg.MaxUploadSize <= 0 {
		cfg.MaxUploadSize = publish.DefaultMaxZipSize + 1<<20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Auth == nil {
		cfg.Auth = staticAuth{tokens.Static(cfg.Tokens)}
	}
	a := &API{cfg: cfg, mux: http.NewServeMux()}
	a.mux.HandleFunc("POST /api/v1/publish", a.guard(a.publish))
	a.mux.HandleFunc("GET /api/v1/publish/{id}", a.guard(a.status))
	return a
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// guard checks that the bearer token may publish (some package), and puts
// its name in the request's context (Identity).
func (a *API) guard(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name, err := a.cfg.Auth.Authorize(r, tokens.ScopePublish, "")
		if err != nil {
			refuse(w, err)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, name)))
	}
}

type identityKey struct{}

// Identity returns the name of the token a request was authorized with
// ("" outside a guarded handler): the key of per-token limits and records.
func Identity(ctx context.Context) string {
	name, _ := ctx.Value(identityKey{}).(string)
	return name
}

// refuse answers an authorization error: 401 without a token, 403 for a
// token that may not do this.
func refuse(w http.ResponseWriter, err error) {
	if errors.Is(err, tokens.ErrDisabled) {
		apijson.Error(w, http.StatusForbidden, "publishing is disabled on this server: start it with --tokens-file FILE or --publish-token TOKEN (or PKGSTORE_PUBLISH_TOKEN) to enable it")
		return
	}
	apijson.Refuse(w, err)
}

// staticAuth authorizes the unnamed --publish-token tokens.
type staticAuth struct{ set *tokens.Set }

func (s staticAuth) Authorize(r *http.Request, scope tokens.Scope, pkg string) (string, error) {
	t, err := s.set.Authenticate(tokens.Bearer(r))
	if err != nil {
		return "", err
	}
	return t.Name, t.Allow(scope, pkg, time.Now())
}

func (a *API) publish(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > a.cfg.MaxUploadSize {
		apijson.Error(w, http.StatusRequestEntityTooLarge, "request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, a.cfg.MaxUploadSize)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxUploadSize)
	mr, err := r.MultipartReader()
	if err != nil {
		apijson.Error(w, http.StatusBadRequest, "expected a multipart/form-data body with parts \"package\" and \"signature\": %v", err)
		return
	}
	ctx := r.Context()
	pub := a.cfg.Publisher
	id := publish.NewID()
	var (
		fileName string
		sig      []byte
		opts     publish.Options
		uploaded bool
		enqueued bool
	)
	// Whatever reached the queue is removed if the request fails later.
	defer func() {
		if uploaded && !enqueued {
			pub.Discard(ctx, id)
		}
	}()
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			a.failUpload(w, err)
			return
		}
		switch part.FormName() {
		case "package":
			if uploaded {
				apijson.Error(w, http.StatusBadRequest, "more than one \"package\" part")
				return
			}
			fileName = part.FileName()
			opts.Token, opts.Client = Identity(ctx), tokens.ClientAddr(r)
			pid, err := packageid.ParseZipName(fileName)
			if err == nil {
				if _, err := a.cfg.Auth.Authorize(r, tokens.ScopePublish, pid.Name); err != nil {
					refuse(w, err)
					return
				}
			}
			if err != nil {
				s, rerr := pub.Reject(ctx, id, fileName, opts, publish.Reason{Check: "name", File: fileName, Message: err.Error()})
				if rerr != nil {
					apijson.Error(w, http.StatusInternalServerError, "record submission: %v", rerr)
					return
				}
				apijson.Write(w, http.StatusUnprocessableEntity, s)
				return
			}
			body := &readErrs{r: part}
			if _, err := pub.UploadZip(ctx, id, fileName, body); err != nil {
				if body.err == nil && !errors.Is(err, publish.ErrTooLarge) {
					// The request was fine; the queue failed: a 5xx lets
					// clients retry.
					a.cfg.Logger.Error("queue upload", "submission", id, "err", err)
					apijson.Error(w, http.StatusServiceUnavailable, "the publishing queue is unavailable, try again: %v", err)
					return
				}
				a.failUpload(w, err)
				return
			}
			uploaded = true
		case "signature":
			sig, err = io.ReadAll(io.LimitReader(part, signature.MaxSignatureSize+1))
			if err != nil {
				a.failUpload(w, err)
				return
			}
			if len(sig) == 0 {
				sig = nil
			}
		case "legacy", "dry_run":
			v, _ := io.ReadAll(io.LimitReader(part, 16))
			b, err := parseBool(string(v))
			if err != nil {
				apijson.Error(w, http.StatusBadRequest, "form field %q: %v", part.FormName(), err)
				return
			}
			if part.FormName() == "legacy" {
				opts.Legacy = b
			} else {
				opts.DryRun = b
			}
		default:
			apijson.Error(w, http.StatusBadRequest, "unknown form part %q (expected package, signature, legacy, dry_run)", part.FormName())
			return
		}
	}
	if !uploaded {
		apijson.Error(w, http.StatusBadRequest, "missing the \"package\" part (the NAME-VERSION.zip file)")
		return
	}
	s, err := pub.Enqueue(ctx, id, fileName, sig, opts)
	enqueued = err == nil
	if err != nil {
		apijson.Error(w, http.StatusInternalServerError, "queue submission: %v", err)
		return
	}
	w.Header().Set("Location", "/api/v1/publish/"+s.ID)
	code := http.StatusAccepted
	if s.Status == publish.StatusRejected {
		code = http.StatusUnprocessableEntity
	}
	apijson.Write(w, code, s)
}

func (a *API) failUpload(w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe), errors.Is(err, publish.ErrTooLarge):
		apijson.Error(w, http.StatusRequestEntityTooLarge, "upload exceeds the size limit: %v", err)
	case errors.Is(err, context.Canceled):
		// The client went away; nothing to answer.
	default:
		a.cfg.Logger.Warn("upload failed", "err", err)
		apijson.Error(w, http.StatusBadRequest, "reading the upload failed: %v", err)
	}
}

// readErrs remembers the error of the request body, to tell a client's
// failure from the queue's.
type readErrs struct {
	r   io.Reader
	err error
}

func (r *readErrs) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

func parseBool(s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	return strconv.ParseBool(strings.TrimSpace(s))
}

// status answers the record of a submission; ?wait=DURATION (at most 60s)
// blocks until the submission is final or the time is up.
func (a *API) status(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx := r.Context()
	var (
		s   *publish.Submission
		err error
	)
	if wait := r.URL.Query().Get("wait"); wait != "" {
		d, perr := time.ParseDuration(wait)
		if perr != nil || d < 0 {
			apijson.Error(w, http.StatusBadRequest, "wait must be a duration such as 30s, got %q", wait)
			return
		}
		wctx, cancel := context.WithTimeout(ctx, min(d, 60*time.Second))
		defer cancel()
		s, err = a.cfg.Publisher.Wait(wctx, id)
	} else {
		s, err = a.cfg.Publisher.Status(ctx, id)
	}
	switch {
	case errors.Is(err, publish.ErrUnknownSubmission):
		apijson.Error(w, http.StatusNotFound, "%v", err)
	case err != nil:
		apijson.Error(w, http.StatusInternalServerError, "%v", err)
	default:
		apijson.Write(w, http.StatusOK, s)
	}
}
