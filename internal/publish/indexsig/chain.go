package indexsig

import (
	"context"
	"errors"
	"fmt"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/storage"
)

// Source gives the statements of a store by version: its internal bucket
// (BucketSource) or a registry's /api/v1/trust/index/VERSION.
type Source interface {
	// Latest is the newest version (ErrMissing when none was issued).
	Latest(ctx context.Context) (uint64, error)
	// Statement is version v's signed statement (ErrMissing when absent).
	Statement(ctx context.Context, v uint64) (api.SignedDocument, error)
}

// BucketSource reads statements from an internal bucket.
type BucketSource struct{ B *storage.Bucket }

// Latest implements Source.
func (s BucketSource) Latest(ctx context.Context) (uint64, error) {
	st, _, err := Latest(ctx, s.B)
	if err != nil {
		return 0, err
	}
	return st.Version, nil
}

// Statement implements Source.
func (s BucketSource) Statement(ctx context.Context, v uint64) (api.SignedDocument, error) {
	return ReadDocument(ctx, s.B, storage.TrustStatementKey(v), MaxStatementSize)
}

// ChainReport is what WalkChain found.
type ChainReport struct {
	// Checked is the number of statements that passed every check.
	Checked int       `json:"checked"`
	Latest  uint64    `json:"latest_version"`
	Cursor  string    `json:"cursor,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
	// Break is the first statement that failed (nil: the chain holds).
	Break *ChainBreak `json:"break,omitempty"`
}

// ChainBreak names the first statement that failed and why.
type ChainBreak struct {
	Version uint64 `json:"version"`
	Reason  string `json:"reason"`
	Err     error  `json:"-"`
}

// MaxChain bounds the statements one walk reads.
const MaxChain = 1 << 20

// WalkChain checks every statement from version 1 to the newest: each
// signed by a key of kr, numbered in order, holding the SHA-256 of the one
// before, issued no earlier than it; the newest not expired at now and,
// when files is set, matching the index files it names. It stops at the
// first break. An error is returned only when the source cannot be read.
func WalkChain(ctx context.Context, src Source, kr *signature.Keyring, now time.Time, files func(context.Context, *api.IndexStatement) error) (ChainReport, error) {
	var rep ChainReport
	latest, err := src.Latest(ctx)
	if errors.Is(err, ErrMissing) {
		rep.Break = &ChainBreak{Version: 1, Reason: err.Error(), Err: err}
		return rep, nil
	}
	if err != nil {
		return rep, err
	}
	rep.Latest = latest
	if latest > MaxChain {
		rep.Break = &ChainBreak{Version: latest, Reason: fmt.Sprintf("newest version %d: more than %d statements", latest, MaxChain), Err: ErrChain}
		return rep, nil
	}
	brk := func(v uint64, err error) (ChainReport, error) {
		rep.Break = &ChainBreak{Version: v, Reason: err.Error(), Err: err}
		return rep, nil
	}
	var prev *api.IndexStatement
	var prevBody []byte
	for v := uint64(1); v <= latest; v++ {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		doc, err := src.Statement(ctx, v)
		if errors.Is(err, ErrMissing) || errors.Is(err, ErrMalformed) {
			return brk(v, fmt.Errorf("%w: statement %d: %w", ErrChain, v, err))
		}
		if err != nil {
			return rep, err
		}
		if _, err := Verify(kr, doc); err != nil {
			return brk(v, fmt.Errorf("statement %d: %w", v, err))
		}
		st, err := ParseStatement(doc.Body)
		if err != nil {
			return brk(v, fmt.Errorf("statement %d: %w", v, err))
		}
		want := ""
		if prev != nil {
			want = SHA256(prevBody)
		}
		switch {
		case st.Version != v:
			return brk(v, fmt.Errorf("%w: statement %d says it is version %d", ErrChain, v, st.Version))
		case st.Previous != want:
			return brk(v, fmt.Errorf("%w: statement %d names previous %q, statement %d hashes to %q", ErrChain, v, st.Previous, v-1, want))
		case prev != nil && st.Issued.Before(prev.Issued):
			return brk(v, fmt.Errorf("%w: statement %d issued %s, before statement %d (%s)", ErrChain, v, st.Issued, v-1, prev.Issued))
		}
		prev, prevBody = st, doc.Body
		rep.Checked++
	}
	rep.Cursor, rep.Expires = prev.Cursor, prev.Expires
	if !now.Before(prev.Expires) {
		rep.Checked--
		return brk(latest, fmt.Errorf("%w: statement %d expired at %s", ErrExpired, latest, prev.Expires.UTC().Format(time.RFC3339)))
	}
	if files != nil {
		if err := files(ctx, prev); err != nil {
			rep.Checked--
			if errors.Is(err, ErrMismatch) {
				return brk(latest, err)
			}
			return rep, err
		}
	}
	return rep, nil
}
