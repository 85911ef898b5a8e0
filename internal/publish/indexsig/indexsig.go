// Package indexsig signs and checks the store's index (docs/trust.md): for
// every cursor it makes current, the indexer issues a signed, versioned,
// expiring statement (api.IndexStatement) bound by SHA-256 to the cursor's
// index files and to a signed snapshot of every offered zip
// (api.IndexSnapshot). Replicas, mirrors and `pkgstore verify-index` check
// them with a keyring: a rolled-back, frozen, mixed or forged index is
// refused.
//
// Statements are kept forever under pkgstore/trust/index/<version>.json,
// each created if absent, so two indexers never issue the same version and
// the chain (each statement holds the SHA-256 of the one before) can be
// walked. The real EPR reads none of this: it lives under pkgstore/.
package indexsig

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"pkgstore/internal/api"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/storage"
)

// Errors callers branch on; each check's error wraps one.
var (
	ErrMissing   = errors.New("index statement missing")
	ErrMalformed = errors.New("index statement malformed")
	ErrSignature = errors.New("index statement not signed by a trusted key")
	ErrRollback  = errors.New("index statement older than the one already trusted (rollback)")
	ErrMismatch  = errors.New("index files do not match their statement (mix-and-match)")
	ErrExpired   = errors.New("index statement expired (freeze)")
	ErrChain     = errors.New("index statement chain broken")
)

// Bounds of what a reader accepts: a statement is a few hundred bytes; a
// snapshot holds about 150 bytes a revision.
const (
	MaxStatementSize = 64 << 10
	MaxSnapshotSize  = 256 << 20
)

// Sign makes the stored form of body signed by key.
func Sign(key *signature.SigningKey, body []byte) (api.SignedDocument, error) {
	var sig bytes.Buffer
	if err := key.Sign(&sig, bytes.NewReader(body)); err != nil {
		return api.SignedDocument{}, err
	}
	return api.SignedDocument{Body: body, Signature: sig.String()}, nil
}

// Verify checks doc's signature with kr.
func Verify(kr *signature.Keyring, doc api.SignedDocument) (*signature.Signer, error) {
	s, err := kr.Verify(bytes.NewReader(doc.Body), strings.NewReader(doc.Signature))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSignature, err)
	}
	return s, nil
}

// ParseDocument reads the stored form of a signed document.
func ParseDocument(raw []byte) (api.SignedDocument, error) {
	var doc api.SignedDocument
	if err := json.Unmarshal(raw, &doc); err != nil {
		return doc, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(doc.Body) == 0 || doc.Signature == "" {
		return doc, fmt.Errorf("%w: no body or no signature", ErrMalformed)
	}
	return doc, nil
}

// ParseStatement decodes a statement's body and checks its shape.
func ParseStatement(body []byte) (*api.IndexStatement, error) {
	var st api.IndexStatement
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	switch {
	case st.Type != api.IndexStatementType:
		return nil, fmt.Errorf("%w: _type %q, want %q", ErrMalformed, st.Type, api.IndexStatementType)
	case st.Version == 0 || st.Cursor == "" || st.IndexSHA256 == "":
		return nil, fmt.Errorf("%w: no version, cursor or index hash", ErrMalformed)
	case !st.Expires.After(st.Issued):
		return nil, fmt.Errorf("%w: expires %s not after issued %s", ErrMalformed, st.Expires, st.Issued)
	}
	return &st, nil
}

// ParseSnapshot decodes a snapshot's body and checks its shape.
func ParseSnapshot(body []byte) (*api.IndexSnapshot, error) {
	var sn api.IndexSnapshot
	if err := json.Unmarshal(body, &sn); err != nil {
		return nil, fmt.Errorf("%w: snapshot: %v", ErrMalformed, err)
	}
	if sn.Type != api.IndexSnapshotType || sn.Version == 0 || sn.Cursor == "" {
		return nil, fmt.Errorf("%w: snapshot _type %q, version %d, cursor %q", ErrMalformed, sn.Type, sn.Version, sn.Cursor)
	}
	return &sn, nil
}

// SHA256 is the hex SHA-256 of b.
func SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// readBounded reads key whole, refusing more than max bytes.
func readBounded(ctx context.Context, b *storage.Bucket, key string, max int64) ([]byte, error) {
	r, err := b.NewReader(ctx, key)
	if err != nil {
		if storage.IsNotFound(err) {
			return nil, fmt.Errorf("%w: %s: %w", ErrMissing, key, err)
		}
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrMalformed, key, max)
	}
	return data, nil
}

// ReadDocument reads the signed document stored at key (ErrMissing when
// absent), without checking its signature.
func ReadDocument(ctx context.Context, b *storage.Bucket, key string, max int64) (api.SignedDocument, error) {
	raw, err := readBounded(ctx, b, key, max)
	if err != nil {
		return api.SignedDocument{}, err
	}
	doc, err := ParseDocument(raw)
	if err != nil {
		return doc, fmt.Errorf("%s: %w", key, err)
	}
	return doc, nil
}

// HashObject is the hex SHA-256 of the object at key, streamed; "" with no
// error when the object does not exist.
func HashObject(ctx context.Context, b *storage.Bucket, key string) (string, int64, error) {
	r, err := b.NewReader(ctx, key)
	if storage.IsNotFound(err) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", key, err)
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", key, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// CheckFiles compares the cursor's index files in b with st's hashes.
func CheckFiles(ctx context.Context, b *storage.Bucket, st *api.IndexStatement) error {
	all, _, err := HashObject(ctx, b, storage.IndexAllKey(st.Cursor))
	if err != nil {
		return err
	}
	if all != st.IndexSHA256 {
		return fmt.Errorf("%w: %s has sha256 %q, statement %d says %s", ErrMismatch, storage.IndexAllKey(st.Cursor), all, st.Version, st.IndexSHA256)
	}
	delta, _, err := HashObject(ctx, b, storage.IndexDeltaKey(st.Cursor))
	if err != nil {
		return err
	}
	if delta != st.DeltaSHA256 {
		return fmt.Errorf("%w: %s has sha256 %q, statement %d says %q", ErrMismatch, storage.IndexDeltaKey(st.Cursor), delta, st.Version, st.DeltaSHA256)
	}
	return nil
}
