package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"pkgstore/internal/client"
	"pkgstore/internal/client/mirror"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/registry"
)

// upstreamError is an upstream request that failed, or that the open
// circuit did not make.
type upstreamError struct {
	err     error
	timeout bool // no answer within Timeout: 504, else 502
}

func (e *upstreamError) Error() string { return "upstream unreachable: " + e.err.Error() }
func (e *upstreamError) Unwrap() error { return e.err }

// answers counts the answers made without the upstream, by kind.
type answers struct {
	local, stale, failed atomic.Uint64
}

// do runs f, one upstream request (retries included, but not when it is
// the half-open circuit's probe: probe is true), through the circuit and
// within Timeout. A client that leaves first says nothing of the
// upstream: its context's error is returned as is.
func (p *Proxy) do(ctx context.Context, f func(ctx context.Context, probe bool) error) error {
	t, err, timeout := p.circuit.admit()
	if err != nil {
		return &upstreamError{err: err, timeout: timeout}
	}
	uctx, cancel := ctx, context.CancelFunc(func() {})
	if p.cfg.Timeout > 0 {
		uctx, cancel = context.WithTimeout(ctx, p.cfg.Timeout)
	}
	defer cancel()
	err = f(uctx, t.probe)
	switch {
	case err == nil || answered(err):
		if t.probe {
			p.log.Info("proxy: upstream answered the probe, circuit closed", "upstream", p.upstream.Redacted())
		}
		p.circuit.success(t)
		if err != nil {
			return &upstreamError{err: err}
		}
		return nil
	case ctx.Err() != nil:
		p.circuit.abandon(t)
		return ctx.Err()
	}
	// Our deadline passed (the client's context is fine), unless the
	// upstream's last answer was an error status (it ran out of time
	// between retries): a timeout; so is the transport's own.
	var ne net.Error
	var se *client.StatusError
	timeout = uctx.Err() != nil && !errors.As(err, &se) || errors.As(err, &ne) && ne.Timeout()
	if timeout && p.cfg.Timeout > 0 {
		err = fmt.Errorf("no answer within %s: %w", p.cfg.Timeout, err)
	}
	opens := p.circuit.opens.Load()
	p.circuit.failure(t, err, timeout)
	if p.circuit.opens.Load() != opens {
		p.log.Warn("proxy: upstream failing, circuit open: answering from local data", "upstream", p.upstream.Redacted(),
			"for", p.cfg.FailTimeout, "err", err)
	}
	return &upstreamError{err: err, timeout: timeout}
}

// answered reports an upstream that is up but refused this request (a
// 4xx other than 408 and 429): the request fails, the circuit counts a
// success, or any client could open it for everyone with queries the
// upstream rejects.
func answered(err error) bool {
	var se *client.StatusError
	return errors.As(err, &se) && se.StatusCode/100 == 4 && se.StatusCode != http.StatusRequestTimeout && se.StatusCode != http.StatusTooManyRequests
}

// remotePackage asks the upstream for /package/N/V/: the document (200),
// or status 404; anything else is an *upstreamError (or the request's
// context's error).
func (p *Proxy) remotePackage(ctx context.Context, id packageid.ID) ([]byte, int, error) {
	u := *p.upstream
	u.Path += "/package/" + id.Name + "/" + id.Version + "/"
	var body []byte
	status := 0
	err := p.do(ctx, func(ctx context.Context, _ bool) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return err
		}
		resp, err := p.cfg.HTTP.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
		case http.StatusNotFound:
			status = http.StatusNotFound // the upstream is fine: it lacks the revision
			return nil
		default:
			return &client.StatusError{URL: u.Redacted(), StatusCode: resp.StatusCode, Status: resp.Status}
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		if err != nil {
			return fmt.Errorf("GET %s: %w", u.Redacted(), err)
		}
		var probe struct{ Name, Version string }
		if err := json.Unmarshal(b, &probe); err != nil || probe.Name != id.Name {
			return fmt.Errorf("GET %s: not a package document (%v)", u.Redacted(), err)
		}
		body, status = b, http.StatusOK
		return nil
	})
	return body, status, err
}

// upstreamJSON GETs the same path and query from the upstream, with
// retries (also of a 2xx that is not JSON, as EPR does), decodes it into
// into and returns the bytes.
func (p *Proxy) upstreamJSON(ctx context.Context, req *http.Request, into any) ([]byte, error) {
	u := *p.upstream
	u.Path += req.URL.Path
	u.RawQuery = req.URL.RawQuery
	var body []byte
	err := p.do(ctx, func(ctx context.Context, probe bool) error {
		retry := p.cfg.Retry
		if probe {
			retry.Attempts = 1 // one request per FailTimeout reaches a failing upstream
		}
		return retry.Do(ctx, func() error {
			out, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
			if err != nil {
				return err
			}
			resp, err := p.cfg.HTTP.Do(out)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
			if resp.StatusCode/100 != 2 || mt != "application/json" {
				code := resp.StatusCode
				if code/100 == 2 {
					code = http.StatusServiceUnavailable // retried, like EPR
				}
				return &client.StatusError{URL: u.Redacted(), StatusCode: code, Status: resp.Status}
			}
			b, err := io.ReadAll(io.LimitReader(resp.Body, mirror.MaxSearchSize+1))
			switch {
			case err != nil:
				return fmt.Errorf("GET %s: %w", u.Redacted(), err)
			case int64(len(b)) > mirror.MaxSearchSize:
				return fmt.Errorf("GET %s: %w", u.Redacted(), mirror.ErrAnswerTooLarge)
			}
			if err := json.Unmarshal(b, into); err != nil {
				return fmt.Errorf("GET %s: %w", u.Redacted(), err)
			}
			body = b
			return nil
		})
	})
	return body, err
}

// remoteList decodes into the upstream's answer to req's /search or
// /categories query and reports true; when the upstream fails, a
// pull-through cache decodes its last good answer instead (stale-if-error:
// Age and Warning 110 and 111 say so) and reports true; otherwise false,
// with a Warning 111 set on w for the local answer.
func (p *Proxy) remoteList(w http.ResponseWriter, req *http.Request, into any) bool {
	body, err := p.upstreamJSON(req.Context(), req, into)
	key := req.URL.Path + "?" + req.URL.RawQuery
	if err == nil {
		if p.stale != nil {
			p.stale.put(key, body, time.Now())
		}
		return true
	}
	if req.Context().Err() != nil {
		return false // the client left
	}
	why := err.Error()
	if p.stale != nil {
		if body, at, ok := p.stale.get(key); ok && json.Unmarshal(body, into) == nil {
			p.answers.stale.Add(1)
			p.log.Debug("proxy: upstream failed, merging its last good answer", "path", key, "err", err)
			w.Header().Set("Age", strconv.FormatInt(int64(time.Since(at)/time.Second), 10))
			w.Header()["Warning"] = []string{warning(110, "Response is Stale"), warning(111, "Revalidation Failed: "+why)}
			return true
		}
	}
	p.answers.local.Add(1)
	p.log.Debug("proxy: upstream failed, answering with local revisions", "path", key, "err", err)
	w.Header().Set("Warning", warning(111, why))
	return false
}

// upstreamFailed answers a revision the local store lacks and the
// upstream could not be asked about: 504 when it did not answer in time,
// 502 otherwise, never the local 404 (the revision may well exist).
func (p *Proxy) upstreamFailed(w http.ResponseWriter, id packageid.ID, err error) {
	p.answers.failed.Add(1)
	code := http.StatusBadGateway
	var ue *upstreamError
	if errors.As(err, &ue) && ue.timeout {
		code = http.StatusGatewayTimeout
	}
	p.log.Debug("proxy: upstream failed, revision not here", "package", id.String(), "err", err)
	w.Header().Set("Warning", warning(111, err.Error()))
	w.Header()["Cache-Control"] = []string{"no-store"}
	http.Error(w, fmt.Sprintf("%s is not in this store and the upstream registry could not be asked: %v", id, err), code)
}

// Health is the upstream's state for /health?verbose=true.
func (p *Proxy) Health() registry.UpstreamHealth {
	state, fails, lastErr, lastFailure, openUntil := p.circuit.snapshot()
	h := registry.UpstreamHealth{URL: p.upstream.Redacted(), State: state, ConsecutiveFailures: fails, LastError: lastErr}
	if !lastFailure.IsZero() {
		at := lastFailure.UTC()
		h.LastFailure = &at
	}
	if state == StateOpen {
		in := max(time.Until(openUntil).Seconds(), 0)
		h.RetryInSeconds = &in
	}
	if p.stale != nil {
		h.StaleAnswers, h.StaleBytes = p.stale.size()
	}
	return h
}

// Stats are the proxy's counters, for metrics.
type Stats struct {
	// State is the circuit's (StateClosed, StateOpen, StateHalfOpen).
	State string
	// Failures of upstream requests, Opens of the circuit, Probes made
	// by a half-open circuit.
	Failures, Opens, Probes uint64
	// Answers made without the upstream: from local data alone, merged
	// with a stale upstream answer, or failed (502/504).
	LocalAnswers, StaleAnswers, FailedAnswers uint64
}

// Stats reads the proxy's counters.
func (p *Proxy) Stats() Stats {
	state, _, _, _, _ := p.circuit.snapshot()
	return Stats{State: state, Failures: p.circuit.failures.Load(), Opens: p.circuit.opens.Load(), Probes: p.circuit.probes.Load(),
		LocalAnswers: p.answers.local.Load(), StaleAnswers: p.answers.stale.Load(), FailedAnswers: p.answers.failed.Load()}
}
