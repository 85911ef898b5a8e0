package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/publish/indexsig"
	"pkgstore/internal/registry/catalog"
	"pkgstore/internal/storage"
)

// indexTrust checks each new cursor against its signed statement (serve
// --index-keyring, docs/trust.md) before the registry loads it. Guarded by
// Registry.reloadMu, but for what /health and the trust routes read.
type indexTrust struct {
	kr *signature.Keyring
	// loaded is the statement of the index being served, and its stored
	// form (what /api/v1/trust/index answers).
	loaded atomic.Pointer[trusted]
	// refused says why the newest cursor seen was refused ("": none).
	refused atomic.Pointer[string]
	// lastRefusal dedupes the log and the metric: one per refused
	// (cursor, statement) pair, not one per watch tick.
	lastRefusal string
	onRefused   func(kind string)
	now         func() time.Time
}

type trusted struct {
	st  *api.IndexStatement
	doc api.SignedDocument
	raw []byte
}

// TrustHealth is the index statement's state in /health?verbose=true.
type TrustHealth struct {
	// Version, Cursor and Expires describe the statement of the index
	// served (absent before one was loaded).
	Version uint64     `json:"version,omitempty"`
	Cursor  string     `json:"cursor,omitempty"`
	Expires *time.Time `json:"expires,omitempty"`
	// Expired: the statement served is past its expiry (the store's
	// indexer stopped re-signing, or someone withholds its updates);
	// /health answers 503.
	Expired bool `json:"expired"`
	// Refused says why the newest cursor in the bucket is not served.
	Refused string `json:"refused,omitempty"`
}

// refusalKind names a refusal for the metric's label.
func refusalKind(err error) string {
	for _, k := range []struct {
		err  error
		kind string
	}{{indexsig.ErrMissing, "missing"}, {indexsig.ErrSignature, "signature"}, {indexsig.ErrRollback, "rollback"},
		{indexsig.ErrMismatch, "mismatch"}, {catalog.ErrHashMismatch, "mismatch"}, {indexsig.ErrMalformed, "malformed"}} {
		if errors.Is(err, k.err) {
			return k.kind
		}
	}
	return "other"
}

// update is catalog.UpdateTo with the statement checked first. A cursor
// refused is logged, counted and reported, and base is kept: the
// registry keeps serving what it has. Before anything was loaded, a
// refusal is an error (the registry stays not ready).
func (r *Registry) trustedUpdate(ctx context.Context, base *catalog.Catalog, latest string) (*catalog.Catalog, error) {
	t := r.trust
	if latest == "" {
		return base, nil
	}
	next, tr, err := t.check(ctx, r.buckets.Internal, base, latest)
	if err == nil {
		if tr != nil {
			t.loaded.Store(tr)
		}
		t.refused.Store(nil)
		t.lastRefusal = ""
		return next, nil
	}
	if ctx.Err() != nil || errors.Is(err, errTransient) {
		return nil, err
	}
	why := fmt.Sprintf("cursor %s refused: %v", latest, err)
	t.refused.Store(&why)
	if why != t.lastRefusal {
		t.lastRefusal = why
		r.log.Error("index refused; serving the previous index", "cursor", latest, "served", base.Cursor(), "err", err)
		if t.onRefused != nil {
			t.onRefused(refusalKind(err))
		}
	}
	if t.loaded.Load() == nil {
		return nil, errors.New(why)
	}
	return base, nil
}

// errTransient marks a bucket that failed to answer: not a refusal.
var errTransient = errors.New("bucket error")

// check verifies latest's statement and loads its index when it is new.
func (t *indexTrust) check(ctx context.Context, b *storage.Bucket, base *catalog.Catalog, latest string) (*catalog.Catalog, *trusted, error) {
	raw, err := b.ReadAll(ctx, storage.TrustCursorKey(latest))
	if storage.IsNotFound(err) {
		return nil, nil, fmt.Errorf("%w: no statement for cursor %s", indexsig.ErrMissing, latest)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: read statement: %w", errTransient, err)
	}
	cur := t.loaded.Load()
	if cur != nil && bytes.Equal(raw, cur.raw) && base.Cursor() == latest {
		return base, nil, nil // nothing new
	}
	if len(raw) > indexsig.MaxStatementSize {
		return nil, nil, fmt.Errorf("%w: statement of %d bytes", indexsig.ErrMalformed, len(raw))
	}
	doc, err := indexsig.ParseDocument(raw)
	if err != nil {
		return nil, nil, err
	}
	if _, err := indexsig.Verify(t.kr, doc); err != nil {
		return nil, nil, err
	}
	st, err := indexsig.ParseStatement(doc.Body)
	if err != nil {
		return nil, nil, err
	}
	if st.Cursor != latest {
		return nil, nil, fmt.Errorf("%w: statement %d is for cursor %s, not %s", indexsig.ErrMismatch, st.Version, st.Cursor, latest)
	}
	if cur != nil {
		switch {
		case st.Version < cur.st.Version:
			return nil, nil, fmt.Errorf("%w: statement %d for cursor %s, version %d (cursor %s) already loaded", indexsig.ErrRollback, st.Version, latest, cur.st.Version, cur.st.Cursor)
		case st.Version == cur.st.Version && !bytes.Equal(doc.Body, cur.doc.Body):
			return nil, nil, fmt.Errorf("%w: two different statements numbered %d", indexsig.ErrRollback, st.Version)
		}
	}
	tr := &trusted{st: st, doc: doc, raw: raw}
	if base.Cursor() == latest && cur != nil {
		return base, tr, nil // re-issued for the index served
	}
	delta, _, err := indexsig.HashObject(ctx, b, storage.IndexDeltaKey(latest))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errTransient, err)
	}
	if delta != st.DeltaSHA256 {
		return nil, nil, fmt.Errorf("%w: %s has sha256 %q, statement %d says %q", indexsig.ErrMismatch, storage.IndexDeltaKey(latest), delta, st.Version, st.DeltaSHA256)
	}
	// The full index, hashed as it is parsed: deltas of cursors in
	// between are not used, as their files are not what this statement
	// vouches for.
	next, err := catalog.LoadHashed(ctx, b, latest, st.IndexSHA256)
	if err != nil {
		if errors.Is(err, catalog.ErrHashMismatch) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("%w: %w", errTransient, err)
	}
	return next, tr, nil
}

// trustHealth reports the statement's state (nil without a keyring).
func (r *Registry) trustHealth() *TrustHealth {
	t := r.trust
	if t == nil {
		return nil
	}
	h := &TrustHealth{}
	if tr := t.loaded.Load(); tr != nil {
		exp := tr.st.Expires.UTC()
		h.Version, h.Cursor, h.Expires = tr.st.Version, tr.st.Cursor, &exp
		h.Expired = !t.now().Before(exp)
	}
	if why := t.refused.Load(); why != nil {
		h.Refused = *why
	}
	return h
}

// trustProblem is why the index statement makes /health fail ("": it
// does not): the statement served has expired.
func (r *Registry) trustProblem() string {
	h := r.trustHealth()
	if h == nil || !h.Expired {
		return ""
	}
	return fmt.Sprintf("index statement %d expired at %s: no newer signed index (frozen?)", h.Version, h.Expires.Format(time.RFC3339))
}

// TrustedStatement returns the stored form of the statement of the index
// served, when the registry checks statements (ok false otherwise).
func (r *Registry) TrustedStatement() (api.SignedDocument, bool) {
	if r.trust == nil {
		return api.SignedDocument{}, false
	}
	tr := r.trust.loaded.Load()
	if tr == nil {
		return api.SignedDocument{}, false
	}
	return tr.doc, true
}
