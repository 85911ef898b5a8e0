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
}

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

// get runs one GET attempt and hands the answer's body to use.
func (f *Fetcher) get(parent context.Context, u string, use func(*http.Response) error) error {
	ctx, cancel := context.WithTimeout(parent, f.timeout())
	defer cancel()
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
		return use(resp)
	}()
	if err != nil && parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
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

// Fetch downloads r's signature and zip (streamed into dst, which is
// truncated first), then verifies the signature over the exact bytes and
// opens the zip with the publisher's checks. On error dst holds nothing
// to trust.
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
	var sig []byte
	err = f.Retry.Do(ctx, func() error {
		return f.get(ctx, sigURL, func(resp *http.Response) error {
			b, err := io.ReadAll(io.LimitReader(resp.Body, signature.MaxSignatureSize+1))
			if err != nil {
				return fmt.Errorf("download %s: %w: %w", sigURL, ErrTruncated, err)
			}
			sig = b
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	out := &Fetched{Signature: sig}
	err = f.Retry.Do(ctx, func() error {
		if _, err := dst.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if err := dst.Truncate(0); err != nil {
			return err
		}
		return f.get(ctx, zipURL, func(resp *http.Response) error {
			h := sha256.New()
			n, err := io.Copy(io.MultiWriter(dst, h), resp.Body)
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
		return nil, err
	}
	if err := Verify(dst, out.Size, id.ZipName(), sig, f.Keyring, &out.Signer); err != nil {
		return nil, err
	}
	return out, nil
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
