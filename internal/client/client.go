package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/pkg/packageid"
)

// Client of one registry.
type Client struct {
	base  *url.URL
	token string
	HTTP  *http.Client
	// SubmitRetry says how often an upload answered 429 or 503 is sent
	// again (see Submit).
	SubmitRetry Retry
}

// DefaultSubmitRetry: five uploads in all, 1 s before the second, doubled
// after each, unless the server's Retry-After says otherwise.
var DefaultSubmitRetry = Retry{Attempts: 5, Backoff: time.Second}

// MaxRetryAfter caps the wait a server's Retry-After may impose on one
// retry of an upload.
const MaxRetryAfter = 60 * time.Second

// New returns a client for the registry at baseURL, publishing with token.
func New(baseURL, token string) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("registry URL %q must be http(s)://host[:port]", baseURL)
	}
	return &Client{base: u, token: token, HTTP: &http.Client{Timeout: 0}, SubmitRetry: DefaultSubmitRetry}, nil
}

// ErrUnexpected wraps answers the client cannot interpret.
var ErrUnexpected = errors.New("unexpected answer from the registry")

func (c *Client) url(path string) string { return c.base.String() + path }

// Published reports whether NAME-VERSION is published, by HEAD on its zip,
// as every Elastic publisher does: 200 yes, 404 no, anything else an error.
func (c *Client) Published(ctx context.Context, id packageid.ID) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, c.url("/epr/"+id.Name+"/"+id.ZipName()), nil)
	if err != nil {
		return false, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return false, fmt.Errorf("check %s: %w", id, err)
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	se := &StatusError{Method: http.MethodHead, URL: req.URL.String(), StatusCode: resp.StatusCode, Status: resp.Status}
	return false, fmt.Errorf("check %s: %w: %w", id, ErrUnexpected, se)
}

// Options of a publication.
type Options struct {
	Legacy bool
	DryRun bool
	// UpstreamSignature, when not nil, is sent as the "upstream_signature"
	// part: the upstream's armored signature of a revision re-signed by
	// the sender (mirror --resign-key), kept in the store's provenance.
	UpstreamSignature []byte
}

// APIError is a non-2xx answer of the publishing API.
type APIError struct {
	StatusCode int
	Message    string
	// RetryAfter is the server's Retry-After (429, 503), zero if none.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	return fmt.Sprintf("registry answered %d: %s", e.StatusCode, e.Message)
}

// Submit uploads a candidate (zip streamed, signature may be nil) and
// returns the queued (or immediately rejected) submission.
//
// An answer of 429 (rate limited) or 503 (queue full, shutting down) means
// the server refused the upload before taking it: when zip is an
// io.Seeker (a file, a bytes.Reader, an io.SectionReader) the upload is
// sent again from the start, after the server's Retry-After (seconds or an
// HTTP date, capped at MaxRetryAfter) or else c.SubmitRetry's backoff, up
// to c.SubmitRetry.Attempts uploads in all. It never waits past ctx's
// deadline: when the wait would end after it, the last answer is returned
// at once. Other answers (400, 401, 403, 413…) are never retried.
func (c *Client) Submit(ctx context.Context, zipName string, zip io.Reader, sig []byte, opts Options) (*api.Submission, error) {
	seeker, _ := zip.(io.Seeker)
	var start int64
	if seeker != nil {
		var err error
		if start, err = seeker.Seek(0, io.SeekCurrent); err != nil {
			seeker = nil
		}
	}
	backoff := c.SubmitRetry.Backoff
	for attempt := 1; ; attempt++ {
		s, err := c.submitOnce(ctx, zipName, zip, sig, opts)
		var ae *APIError
		if err == nil || seeker == nil || attempt >= c.SubmitRetry.Attempts || !errors.As(err, &ae) ||
			(ae.StatusCode != http.StatusTooManyRequests && ae.StatusCode != http.StatusServiceUnavailable) {
			return s, err
		}
		wait := backoff
		if ae.RetryAfter > 0 {
			wait = min(ae.RetryAfter, MaxRetryAfter)
		}
		backoff *= 2
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
		if _, serr := seeker.Seek(start, io.SeekStart); serr != nil {
			return nil, fmt.Errorf("upload %s again: %w (after: %w)", zipName, serr, err)
		}
	}
}

func (c *Client) submitOnce(ctx context.Context, zipName string, zip io.Reader, sig []byte, opts Options) (*api.Submission, error) {
	// The form's parts around the zip are built in memory, and the zip is
	// read by the transport itself: no goroutine and pipe between the two,
	// and a Content-Length instead of chunks when the zip's size is known.
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	for _, f := range []struct {
		name string
		v    bool
	}{{"legacy", opts.Legacy}, {"dry_run", opts.DryRun}} {
		if err := mw.WriteField(f.name, strconv.FormatBool(f.v)); err != nil {
			return nil, err
		}
	}
	if sig != nil {
		fw, err := mw.CreateFormFile("signature", zipName+".sig")
		if err != nil {
			return nil, err
		}
		if _, err := fw.Write(sig); err != nil {
			return nil, err
		}
	}
	if opts.UpstreamSignature != nil {
		fw, err := mw.CreateFormFile("upstream_signature", zipName+".upstream.sig")
		if err != nil {
			return nil, err
		}
		if _, err := fw.Write(opts.UpstreamSignature); err != nil {
			return nil, err
		}
	}
	if _, err := mw.CreateFormFile("package", zipName); err != nil {
		return nil, err
	}
	n := head.Len()
	if err := mw.Close(); err != nil {
		return nil, err
	}
	form := head.Bytes()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/api/v1/publish"),
		io.MultiReader(bytes.NewReader(form[:n]), zip, bytes.NewReader(form[n:])))
	if err != nil {
		return nil, err
	}
	req.ContentLength = -1
	if size := remaining(zip); size >= 0 {
		req.ContentLength = int64(len(form)) + size
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("upload %s: %w", zipName, err)
	}
	defer resp.Body.Close()
	return decodeSubmission(resp)
}

// remaining is the number of bytes left to read from r, or -1 when r
// cannot tell without being read.
func remaining(r io.Reader) int64 {
	switch r := r.(type) {
	case interface{ Len() int }: // bytes.Reader, strings.Reader, bytes.Buffer
		return int64(r.Len())
	case io.Seeker:
		cur, err := r.Seek(0, io.SeekCurrent)
		if err != nil {
			return -1
		}
		end, err := r.Seek(0, io.SeekEnd)
		if _, serr := r.Seek(cur, io.SeekStart); err != nil || serr != nil {
			return -1
		}
		return end - cur
	}
	return -1
}

func decodeSubmission(resp *http.Response) (*api.Submission, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusUnprocessableEntity {
		var e api.ErrorBody
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(body))
		}
		ae := &APIError{StatusCode: resp.StatusCode, Message: e.Error}
		ae.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
		return nil, ae
	}
	var s api.Submission
	if err := json.Unmarshal(body, &s); err != nil || s.ID == "" && s.Status == "" {
		return nil, fmt.Errorf("%w: %s", ErrUnexpected, strings.TrimSpace(string(body)))
	}
	return &s, nil
}

// retryAfter parses a Retry-After value: delay-seconds or an HTTP date
// (RFC 9110 §10.2.3). Zero when absent, malformed or in the past.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if sec, err := strconv.ParseInt(v, 10, 64); err == nil {
		if sec <= 0 {
			return 0
		}
		return time.Duration(min(sec, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Status returns a submission's record, waiting up to wait for it to be final.
func (c *Client) Status(ctx context.Context, id string, wait time.Duration) (*api.Submission, error) {
	u := c.url("/api/v1/publish/" + url.PathEscape(id))
	if wait > 0 {
		u += "?wait=" + wait.String()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("status of %s: %w", id, err)
	}
	defer resp.Body.Close()
	return decodeSubmission(resp)
}

// waitRetries bounds the consecutive server errors Wait rides out: the
// submission is queued and keeps going whatever one status read says.
const waitRetries = 5

// waitRetryPause is the first pause after a server error; each further
// one is longer by as much.
var waitRetryPause = 200 * time.Millisecond

// Wait polls a submission until it is final or ctx is done. A server error
// (5xx) while reading the status, such as a bucket read that failed once,
// is retried a few times with a growing pause.
func (c *Client) Wait(ctx context.Context, id string) (*api.Submission, error) {
	failures := 0
	for {
		s, err := c.Status(ctx, id, 30*time.Second)
		var ae *APIError
		if err != nil && errors.As(err, &ae) && ae.StatusCode >= 500 && failures < waitRetries {
			failures++
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("%w (after: %v)", ctx.Err(), err)
			case <-time.After(time.Duration(failures) * waitRetryPause):
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		failures = 0
		if s.Status.Final() {
			return s, nil
		}
		if err := ctx.Err(); err != nil {
			return s, err
		}
	}
}

// Publish submits a candidate and waits for its outcome.
func (c *Client) Publish(ctx context.Context, zipName string, zip io.Reader, sig []byte, opts Options) (*api.Submission, error) {
	s, err := c.Submit(ctx, zipName, zip, sig, opts)
	if err != nil {
		return nil, err
	}
	if s.Status.Final() {
		return s, nil
	}
	return c.Wait(ctx, s.ID)
}
