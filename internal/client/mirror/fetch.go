package mirror

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"pkgstore/internal/client"
	"pkgstore/internal/pkg/archive"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/signature"
)

// Fetcher downloads revisions from an upstream and checks them.
type Fetcher struct {
	Upstream string // base URL, no trailing slash
	HTTP     *http.Client
	Keyring  *signature.Keyring
	Retry    client.Retry
	// Timeout bounds one attempt at one file (default 5 minutes); a
	// stalled download is retried.
	Timeout time.Duration
	// MaxSize bounds a zip (default DefaultMaxZipSize): a larger
	// Content-Length is refused before the body is read, and no more than
	// MaxSize+1 bytes are ever written to the destination. Never retried.
	MaxSize int64
	// RevisionTimeout bounds one revision in all: signature, zip and
	// every retry (default DefaultRevisionTimeout).
	RevisionTimeout time.Duration
	// MinRate and StallWindow cut an attempt that receives fewer than
	// MinRate bytes a second over any StallWindow, headers included
	// (defaults DefaultMinRate, DefaultStallWindow; a negative MinRate
	// turns the cut off). The cut is retried like a timeout.
	MinRate     int64
	StallWindow time.Duration
	// Reserve, if set, is asked for the bytes a zip may take on disk (its
	// Content-Length, or MaxSize when the upstream does not say) before
	// the first byte is written; release is called once the download is
	// over. The proxy cache bounds its temporary space with it.
	Reserve func(ctx context.Context, n int64) (release func(), err error)
	// SizeFlag names the setting behind MaxSize in errors.
	SizeFlag string
	// CheckLogged, if set, must accept the zip's SHA-256 once its
	// signature verified (a transparency log proof).
	CheckLogged func(ctx context.Context, id packageid.ID, sha256 string) error
}

// Defaults of a Fetcher's bounds.
const (
	// DefaultMaxZipSize is serve's --max-upload-size default: the
	// largest zip a store accepts by default.
	DefaultMaxZipSize      = 251 << 20
	DefaultRevisionTimeout = 30 * time.Minute
	DefaultMinRate         = 16 << 10
	DefaultStallWindow     = 30 * time.Second
)

// ErrTooLarge wraps a zip larger than the Fetcher's MaxSize.
var ErrTooLarge = errors.New("zip too large")

// ErrStalled wraps an attempt cut by the minimum transfer rate.
var ErrStalled = errors.New("download stalled")

// ErrVerify wraps every reason a downloaded revision is refused: it is not
// what the upstream's signer signed.
var ErrVerify = errors.New("verification failed")

// ErrTruncated wraps downloads cut short after the upstream answered: they
// are retried, but unlike an unreachable upstream they do not stop the run.
var ErrTruncated = errors.New("download cut short")

// Fetched is a downloaded, verified revision.
type Fetched struct {
	Size      int64
	SHA256    string
	Signature []byte
	Signer    string // fingerprint
}

func (f *Fetcher) resolve(p string) (string, error) {
	base, err := url.Parse(f.Upstream + "/")
	if err != nil {
		return "", err
	}
	ref, err := url.Parse(p)
	if err != nil {
		return "", fmt.Errorf("upstream path %q: %w", p, err)
	}
	u := base.ResolveReference(ref)
	if u.Host != base.Host || u.Scheme != base.Scheme {
		// Package text is untrusted: /search must not send us elsewhere.
		return "", fmt.Errorf("upstream path %q leaves %s", p, f.Upstream)
	}
	return u.String(), nil
}

func (f *Fetcher) timeout() time.Duration {
	if f.Timeout <= 0 {
		return 5 * time.Minute
	}
	return f.Timeout
}

func (f *Fetcher) maxSize() int64 {
	if f.MaxSize <= 0 {
		return DefaultMaxZipSize
	}
	return f.MaxSize
}

func (f *Fetcher) revisionTimeout() time.Duration {
	if f.RevisionTimeout <= 0 {
		return DefaultRevisionTimeout
	}
	return f.RevisionTimeout
}

func (f *Fetcher) stall() (rate int64, window time.Duration) {
	rate, window = f.MinRate, f.StallWindow
	if rate == 0 {
		rate = DefaultMinRate
	}
	if window <= 0 {
		window = DefaultStallWindow
	}
	return rate, window
}

func (f *Fetcher) sizeFlag() string {
	if f.SizeFlag == "" {
		return "--max-zip-size"
	}
	return f.SizeFlag
}

// counter counts the bytes read through it for the stall watchdog.
type counter struct {
	r io.Reader
	n *atomic.Int64
}

func (c counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// get runs one GET attempt and hands the answer to use, with its body
// counted by a watchdog that cuts the attempt when fewer than MinRate
// bytes a second arrive over a StallWindow (waiting for the headers
// counts: an upstream that never answers is cut as well).
func (f *Fetcher) get(parent context.Context, u string, use func(resp *http.Response, body io.Reader) error) error {
	ctx, cancel := context.WithTimeout(parent, f.timeout())
	defer cancel()
	var got atomic.Int64
	var stalled atomic.Bool
	rate, window := f.stall()
	if rate > 0 {
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(window)
			defer t.Stop()
			last := int64(0)
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					n := got.Load()
					if float64(n-last) < float64(rate)*window.Seconds() {
						stalled.Store(true)
						cancel()
						return
					}
					last = n
				}
			}
		}()
		defer func() { close(stop); <-done }()
	}
	err := func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := f.HTTP.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return &client.StatusError{URL: u, StatusCode: resp.StatusCode, Status: resp.Status}
		}
		return use(resp, counter{resp.Body, &got})
	}()
	switch {
	case err == nil || parent.Err() != nil:
	case stalled.Load():
		// Retried like a timeout (DeadlineExceeded is transient).
		return fmt.Errorf("GET %s: %w: fewer than %d bytes in %s (%d bytes in all): %w", u, ErrStalled, int64(float64(rate)*window.Seconds()), window, got.Load(), context.DeadlineExceeded)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("GET %s: no complete answer within %s (--timeout): %w", u, f.timeout(), context.DeadlineExceeded)
	}
	return err
}

// Size asks the upstream for a revision's zip size with HEAD (-1 when it
// does not say).
func (f *Fetcher) Size(ctx context.Context, r Revision) (int64, error) {
	u, err := f.resolve(r.Download)
	if err != nil {
		return -1, err
	}
	size := int64(-1)
	err = f.Retry.Do(ctx, func() error {
		ctx, cancel := context.WithTimeout(ctx, f.timeout())
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
		if err != nil {
			return err
		}
		resp, err := f.HTTP.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return &client.StatusError{URL: u, StatusCode: resp.StatusCode, Status: resp.Status}
		}
		size = resp.ContentLength
		return nil
	})
	return size, err
}

// Fetch downloads r's signature and checks it can be this revision's (an
// OpenPGP signature by a key of the keyring: anything else is refused
// before the zip is asked for), then the zip (streamed into dst, which is
// truncated first; at most MaxSize bytes), then verifies the signature
// over the exact bytes and opens the zip with the publisher's checks. The
// whole revision takes at most RevisionTimeout. On error dst holds nothing
// to trust (and is emptied when the zip was refused).
func (f *Fetcher) Fetch(ctx context.Context, r Revision, dst *os.File) (*Fetched, error) {
	id := r.ID()
	if r.SignaturePath == "" {
		return nil, fmt.Errorf("%w: the upstream's /search gives no signature_path for %s: it serves no signature", ErrVerify, id)
	}
	zipURL, err := f.resolve(r.Download)
	if err != nil {
		return nil, err
	}
	sigURL, err := f.resolve(r.SignaturePath)
	if err != nil {
		return nil, err
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, f.revisionTimeout())
	defer cancel()
	overtime := func(err error) error {
		if err != nil && parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("%s: not downloaded within %s (the time allowed for one revision): %w", id, f.revisionTimeout(), err)
		}
		return err
	}
	var sig []byte
	err = f.Retry.Do(ctx, func() error {
		return f.get(ctx, sigURL, func(_ *http.Response, body io.Reader) error {
			b, err := io.ReadAll(io.LimitReader(body, signature.MaxSignatureSize+1))
			if err != nil {
				return fmt.Errorf("download %s: %w: %w", sigURL, ErrTruncated, err)
			}
			sig = b
			return nil
		})
	})
	if err != nil {
		return nil, overtime(err)
	}
	if err := Precheck(sig, id.ZipName(), f.Keyring); err != nil {
		return nil, err
	}
	out := &Fetched{Signature: sig}
	max := f.maxSize()
	err = f.Retry.Do(ctx, func() error {
		if _, err := dst.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if err := dst.Truncate(0); err != nil {
			return err
		}
		return f.get(ctx, zipURL, func(resp *http.Response, body io.Reader) error {
			if resp.ContentLength > max {
				return fmt.Errorf("download %s: %w: %d bytes, over the limit of %d bytes (%s)", zipURL, ErrTooLarge, resp.ContentLength, max, f.sizeFlag())
			}
			if f.Reserve != nil {
				need := resp.ContentLength
				if need < 0 {
					need = max
				}
				release, err := f.Reserve(ctx, need)
				if err != nil {
					return err
				}
				defer release()
			}
			h := sha256.New()
			n, err := io.Copy(io.MultiWriter(dst, h), io.LimitReader(body, max+1))
			if n > max {
				return fmt.Errorf("download %s: %w: more than the limit of %d bytes (%s)", zipURL, ErrTooLarge, max, f.sizeFlag())
			}
			if err != nil {
				return fmt.Errorf("download %s: %w: %w (after %d bytes)", zipURL, ErrTruncated, err, n)
			}
			if resp.ContentLength >= 0 && n != resp.ContentLength {
				return fmt.Errorf("download %s: %w: %w: %d of %d bytes", zipURL, ErrTruncated, io.ErrUnexpectedEOF, n, resp.ContentLength)
			}
			out.Size, out.SHA256 = n, hex.EncodeToString(h.Sum(nil))
			return nil
		})
	})
	if err != nil {
		// What was received is worthless: free the space now.
		dst.Truncate(0)
		return nil, overtime(err)
	}
	if err := Verify(dst, out.Size, id.ZipName(), sig, f.Keyring, &out.Signer); err != nil {
		return nil, err
	}
	if f.CheckLogged != nil {
		if err := f.CheckLogged(ctx, id, out.SHA256); err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
	}
	return out, nil
}

// Precheck refuses a signature that cannot be a valid signature of any
// zip by a key of kr (not OpenPGP, not a signature, an unknown key),
// without the zip: a download is not started for it. (An expired or
// revoked key is only found by Verify, with the zip.)
func Precheck(sig []byte, zipName string, kr *signature.Keyring) error {
	// Over no data the signature can only mismatch: every other error is
	// about the signature itself.
	_, err := kr.Verify(bytes.NewReader(nil), bytes.NewReader(sig))
	if err == nil || errors.Is(err, signature.ErrMismatch) {
		return nil
	}
	if errors.Is(err, signature.ErrUnknownKey) {
		err = fmt.Errorf("%w (pass the upstream's public key with --keyring)", err)
	}
	return fmt.Errorf("%w: %s.sig: %w (checked before the zip was downloaded)", ErrVerify, zipName, err)
}

// Verify checks sig over the zip in f against kr and opens the zip with
// the publisher's checks (paths, sizes, root folder, manifest identity).
// signer, if not nil, receives the signing key's fingerprint.
func Verify(f *os.File, size int64, zipName string, sig []byte, kr *signature.Keyring, signer *string) error {
	id, err := packageid.ParseZipName(zipName)
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	s, err := kr.Verify(io.LimitReader(f, size), bytes.NewReader(sig))
	if err != nil {
		if errors.Is(err, signature.ErrUnknownKey) {
			err = fmt.Errorf("%w (pass the upstream's public key with --keyring)", err)
		}
		return fmt.Errorf("%w: %s.sig: %w", ErrVerify, zipName, err)
	}
	if signer != nil {
		*signer = s.Fingerprint
	}
	if _, err := archive.Open(f, size, id, archive.DefaultLimits); err != nil {
		return fmt.Errorf("%w: %s: %s", ErrVerify, zipName, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return nil
}
