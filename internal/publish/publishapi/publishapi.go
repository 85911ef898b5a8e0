// Package publishapi is the HTTP front of the publishing job:
// POST /api/v1/publish queues a candidate, GET /api/v1/publish/{id} reports
// its outcome. Both need a bearer token.
package publishapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/api/apijson"
	"pkgstore/internal/govern/tokens"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/publish"
	"pkgstore/internal/publish/ratelimit"
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
	// RateLimit bounds publications per token identity (nil: no limit);
	// over it a client gets 429 with Retry-After.
	RateLimit *ratelimit.Limiter
	// MaxUploads bounds the uploads received at once and MaxPending the
	// submissions this process holds unfinished (queued or in progress);
	// over either a client gets 503 with Retry-After instead of the server
	// buffering without bound. Zero means the defaults.
	MaxUploads, MaxPending int
	// UploadTimeout is how long one publish request may take to arrive
	// (the server's read timeout is shorter: it covers every other route).
	UploadTimeout time.Duration
	// MaxUploadsPerToken bounds the uploads one token has in progress at
	// once, so that one token cannot take every one of MaxUploads. Zero
	// means the default.
	MaxUploadsPerToken int
	// MinUploadRate is the rate, in bytes a second, an admitted upload
	// must keep up while the server waits for it; it may fall behind by
	// UploadRateWindow's worth of bytes at most (which is also its grace
	// at the start), then it is cut with a 408. Zero means the default,
	// negative turns the check off.
	MinUploadRate int64
	// UploadRateWindow is the window of MinUploadRate (zero: the default).
	UploadRateWindow time.Duration
}

// Defaults of the back-pressure limits.
const (
	DefaultMaxUploads         = 16
	DefaultMaxUploadsPerToken = 4
	DefaultMaxPending         = 256
	DefaultUploadTimeout      = 15 * time.Minute
	// DefaultMinUploadRate and DefaultUploadRateWindow: an upload may not
	// send less than 200 KiB in any 20 s the server spends waiting for it.
	DefaultMinUploadRate    = 10 << 10
	DefaultUploadRateWindow = 20 * time.Second
	// busyRetryAfter is the Retry-After of a 503: about one publication.
	busyRetryAfter = "5"
	// uploadSlotWait is how long an upload waits for one of MaxUploads.
	uploadSlotWait = 30 * time.Second
)

// Authorizer checks a request's bearer token for a scope on a package
// ("" before the package is known). It returns the token's name, or
// tokens.ErrDisabled, tokens.ErrMissing, tokens.ErrUnknown or a
// *tokens.Refusal, whose messages are safe to show the client.
type Authorizer interface {
	Authorize(r *http.Request, scope tokens.Scope, pkg string) (name string, err error)
}

// preambleLimit bounds what a client may send before the "package"
// part's headers (the small form fields, the signature and the upstream
// signature, plus the buffer read ahead of them): that much is read
// before the upload holds any slot, under the server's ordinary read
// timeout.
const preambleLimit = 2*signature.MaxSignatureSize + 192<<10

// ErrTooSlow is the error of an upload cut for sending less than
// Config.MinUploadRate.
var ErrTooSlow = errors.New("upload too slow")

// errPreamble is the error of parts before the "package" part that exceed
// preambleLimit.
var errPreamble = fmt.Errorf("the form parts before the \"package\" part exceed %d bytes (send legacy, dry_run, signature and upstream_signature first, each small, then the package)", preambleLimit)

// API serves the publishing routes.
type API struct {
	cfg     Config
	mux     *http.ServeMux
	uploads chan struct{} // one slot per upload in progress

	mu       sync.Mutex
	perToken map[string]*tokenSlots // by token name, while in use
}

// tokenSlots are one token's upload slots; users counts the requests
// holding or waiting for one, so that the entry goes when they do.
type tokenSlots struct {
	slots chan struct{}
	users int
}

// New returns the API handler.
func New(cfg Config) *API {
	if cfg.MaxUploadSize <= 0 {
		cfg.MaxUploadSize = publish.DefaultMaxZipSize + 1<<20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxUploads <= 0 {
		cfg.MaxUploads = DefaultMaxUploads
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.UploadTimeout <= 0 {
		cfg.UploadTimeout = DefaultUploadTimeout
	}
	if cfg.MaxUploadsPerToken <= 0 {
		cfg.MaxUploadsPerToken = DefaultMaxUploadsPerToken
	}
	if cfg.MinUploadRate == 0 {
		cfg.MinUploadRate = DefaultMinUploadRate
	}
	if cfg.UploadRateWindow <= 0 {
		cfg.UploadRateWindow = DefaultUploadRateWindow
	}
	if cfg.Auth == nil {
		cfg.Auth = staticAuth{tokens.Static(cfg.Tokens)}
	}
	a := &API{cfg: cfg, mux: http.NewServeMux(), uploads: make(chan struct{}, cfg.MaxUploads), perToken: make(map[string]*tokenSlots)}
	a.mux.HandleFunc("POST /api/v1/publish", a.guard(a.publish))
	a.mux.HandleFunc("GET /api/v1/publish/{id}", a.guard(a.status))
	return a
}

// Uploads returns the number of uploads holding a slot: admitted, their
// zip being received.
func (a *API) Uploads() int { return len(a.uploads) }

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

// check applies the per-token publication rate and the queue's bound
// before anything is read; it answers the refusal itself.
func (a *API) check(w http.ResponseWriter, r *http.Request) bool {
	if ok, wait := a.cfg.RateLimit.Allow(Identity(r.Context())); !ok {
		ra := ratelimit.RetryAfter(wait)
		w.Header().Set("Retry-After", ra)
		apijson.Error(w, http.StatusTooManyRequests, "too many publications with this token: retry in %ss", ra)
		return false
	}
	if n := a.cfg.Publisher.Pending(); n >= a.cfg.MaxPending {
		w.Header().Set("Retry-After", busyRetryAfter)
		apijson.Error(w, http.StatusServiceUnavailable, "the publishing queue is full (%d submissions waiting): retry later", n)
		return false
	}
	return true
}

// admit takes an upload slot of the request's token, then one of all,
// once the token may publish the package being sent: only then does the
// zip's transfer begin. It answers the refusal itself. The returned func
// frees both slots.
func (a *API) admit(w http.ResponseWriter, r *http.Request, body *uploadBody) (release func(), ok bool) {
	name := Identity(r.Context())
	a.mu.Lock()
	ts := a.perToken[name]
	if ts == nil {
		ts = &tokenSlots{slots: make(chan struct{}, a.cfg.MaxUploadsPerToken)}
		a.perToken[name] = ts
	}
	ts.users++
	a.mu.Unlock()
	leave := func() {
		a.mu.Lock()
		if ts.users--; ts.users == 0 {
			delete(a.perToken, name)
		}
		a.mu.Unlock()
	}
	// A burst waits a little for a slot (its body waits in the kernel's
	// buffers, not in ours) before being turned away.
	t := time.NewTimer(uploadSlotWait)
	defer t.Stop()
	select {
	case ts.slots <- struct{}{}:
	case <-r.Context().Done():
		leave()
		return nil, false
	case <-t.C:
		leave()
		w.Header().Set("Retry-After", busyRetryAfter)
		apijson.Error(w, http.StatusTooManyRequests, "%d uploads with token %q already in progress (the limit per token): retry later", cap(ts.slots), name)
		return nil, false
	}
	select {
	case a.uploads <- struct{}{}:
	case <-r.Context().Done():
		<-ts.slots
		leave()
		return nil, false
	case <-t.C:
		<-ts.slots
		leave()
		w.Header().Set("Retry-After", busyRetryAfter)
		apijson.Error(w, http.StatusServiceUnavailable, "%d uploads already in progress: retry later", cap(a.uploads))
		return nil, false
	}
	// Uploads may be slower than any other request: extend this
	// connection's deadlines (the server's defaults stay short); from now
	// on the body keeps the read deadline, to enforce the minimum rate.
	rc := http.NewResponseController(w)
	end := time.Now().Add(a.cfg.UploadTimeout)
	_ = rc.SetReadDeadline(end)
	_ = rc.SetWriteDeadline(end.Add(time.Minute))
	body.admitted(rc, end, a.cfg.MinUploadRate, a.cfg.UploadRateWindow)
	return func() {
		<-a.uploads
		<-ts.slots
		leave()
	}, true
}

// refuse answers an authorization error: 401 without a token, 403 for a
// token that may not do this.
func refuse(w http.ResponseWriter, err error) {
	if errors.Is(err, tokens.ErrDisabled) {
		apijson.Error(w, http.StatusForbidden, "publishing is disabled on this server: start it with --tokens-file FILE or --publish-token TOKEN (or PKGSTORE_PUBLISH_TOKEN) to enable it")
		return
	}
	tokens.Refuse(w, err)
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
	if !a.check(w, r) {
		return
	}
	// No slot is held until the token may publish the package named by
	// the "package" part's headers: what comes before is small and read
	// under the server's ordinary read timeout.
	ub := &uploadBody{r: r.Body, limit: preambleLimit}
	var release func()
	defer func() {
		if release != nil {
			release()
		}
	}()
	body := http.MaxBytesReader(w, ub, a.cfg.MaxUploadSize)
	// multipart reads 4 KiB at a time; a larger buffer under it turns a
	// zip's upload into a few large reads of the connection rather than
	// one system call per 4 KiB.
	br := bodyBufs.Get().(*bufio.Reader)
	br.Reset(body)
	defer func() { br.Reset(nil); bodyBufs.Put(br) }()
	r.Body = struct {
		io.Reader
		io.Closer
	}{br, body}
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
				var ok bool
				if release, ok = a.admit(w, r, ub); !ok {
					return
				}
			}
			if err != nil {
				s, rerr := pub.Reject(ctx, id, fileName, opts, api.Reason{Check: api.CheckName, File: fileName, Message: err.Error()})
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
				if body.err != nil {
					// The client's failure (too slow, too large) is
					// what to answer, whatever the queue made of it.
					err = body.err
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
		case "upstream_signature":
			// A re-signing mirror's provenance (mirror --resign-key): the
			// upstream's signature, kept in the revision's record. It is
			// checked here, before any slot is taken or byte queued, and
			// again by the job.
			if uploaded {
				apijson.Error(w, http.StatusBadRequest, "the \"upstream_signature\" part must come before the \"package\" part")
				return
			}
			up, err := io.ReadAll(io.LimitReader(part, signature.MaxSignatureSize+1))
			if err != nil {
				a.failUpload(w, err)
				return
			}
			if _, err := signature.ParseArmored(up); err != nil {
				apijson.Error(w, http.StatusBadRequest, "form part \"upstream_signature\": want the upstream's armored detached OpenPGP signature: %v", err)
				return
			}
			opts.UpstreamSignature = up
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
			apijson.Error(w, http.StatusBadRequest, "unknown form part %q (expected package, signature, upstream_signature, legacy, dry_run)", part.FormName())
			return
		}
	}
	if !uploaded {
		apijson.Error(w, http.StatusBadRequest, "missing the \"package\" part (the NAME-VERSION.zip file)")
		return
	}
	ub.finished()
	s, err := pub.Enqueue(ctx, id, fileName, sig, opts)
	enqueued = err == nil
	if err != nil {
		apijson.Error(w, http.StatusInternalServerError, "queue submission: %v", err)
		return
	}
	w.Header().Set("Location", "/api/v1/publish/"+s.ID)
	code := http.StatusAccepted
	if s.Status == api.StatusRejected {
		code = http.StatusUnprocessableEntity
	}
	apijson.Write(w, code, s)
}

func (a *API) failUpload(w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe), errors.Is(err, publish.ErrTooLarge):
		apijson.Error(w, http.StatusRequestEntityTooLarge, "upload exceeds the size limit: %v", err)
	case errors.Is(err, ErrTooSlow):
		a.cfg.Logger.Warn("upload cut", "err", err)
		apijson.Error(w, http.StatusRequestTimeout, "%v", err)
	case errors.Is(err, errPreamble):
		apijson.Error(w, http.StatusBadRequest, "%v", err)
	case errors.Is(err, context.Canceled):
		// The client went away; nothing to answer.
	default:
		a.cfg.Logger.Warn("upload failed", "err", err)
		apijson.Error(w, http.StatusBadRequest, "reading the upload failed: %v", err)
	}
}

var bodyBufs = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}

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
		s   *api.Submission
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
	if err == nil {
		// A token sees the submissions of the packages it may publish
		// only; others answer as unknown, so ids cannot be probed.
		if _, aerr := a.cfg.Auth.Authorize(r, tokens.ScopePublish, s.Name); aerr != nil {
			err = fmt.Errorf("%w: %q", publish.ErrUnknownSubmission, id)
		}
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
