package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/publish/indexsig"
)

// IndexCheck makes a run check the upstream's signed index (mirror
// --index-keyring, docs/trust.md): its statement and snapshot are verified
// with Keyring, refused when older than the last ones this mirror saw
// (recorded in StateFile), and every zip downloaded must have the SHA-256
// and size the snapshot lists.
type IndexCheck struct {
	Keyring *signature.Keyring
	// StateFile keeps the newest statement seen from this upstream
	// (default: beside the bundle for bundle runs; required otherwise).
	StateFile string
}

// ErrIndexRefused wraps every reason the upstream's signed index is
// refused.
var ErrIndexRefused = errors.New("upstream's signed index refused")

// indexState is what StateFile holds.
type indexState struct {
	Upstream        string `json:"upstream"`
	Version         uint64 `json:"version"`
	Cursor          string `json:"cursor"`
	StatementSHA256 string `json:"statement_sha256"`
}

// DefaultIndexState is the state file of a bundle run.
func DefaultIndexState(bundle string) string { return bundle + ".index-state.json" }

// checkIndex fetches and verifies the upstream's statement and snapshot,
// and records the statement as the newest seen.
func (r *run) checkIndex(ctx context.Context) error {
	ic := r.cfg.Index
	if ic == nil {
		return nil
	}
	state := ic.StateFile
	if state == "" && r.cfg.Bundle != "" {
		state = DefaultIndexState(r.cfg.Bundle)
	}
	if state == "" {
		return errors.New("mirror: --index-keyring needs a state file (--index-state) to detect rollbacks")
	}
	src := client.TrustSource{BaseURL: r.cfg.From, HTTP: r.cfg.HTTP}
	stDoc, snDoc, err := src.Current(ctx)
	if err != nil {
		if errors.Is(err, indexsig.ErrMissing) || errors.Is(err, indexsig.ErrMalformed) {
			return fmt.Errorf("%w: %w", ErrIndexRefused, err)
		}
		return err
	}
	st, sn, err := verifyUpstreamIndex(ic.Keyring, stDoc, snDoc, r.cfg.Now())
	if err != nil {
		return fmt.Errorf("%w: %w", ErrIndexRefused, err)
	}
	var old indexState
	switch raw, err := os.ReadFile(state); {
	case err == nil:
		if err := json.Unmarshal(raw, &old); err != nil {
			return fmt.Errorf("index state %s: %w", state, err)
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return fmt.Errorf("index state: %w", err)
	}
	sum := indexsig.SHA256(stDoc.Body)
	switch {
	case st.Version < old.Version:
		return fmt.Errorf("%w: %w: upstream serves statement %d (cursor %s); this mirror already saw %d (cursor %s, %s)",
			ErrIndexRefused, indexsig.ErrRollback, st.Version, st.Cursor, old.Version, old.Cursor, state)
	case st.Version == old.Version && sum != old.StatementSHA256:
		return fmt.Errorf("%w: %w: upstream serves a statement %d that differs from the one this mirror saw", ErrIndexRefused, indexsig.ErrRollback, st.Version)
	}
	r.snapshot = map[packageid.ID]api.SnapshotRevision{}
	for _, rev := range sn.Revisions {
		r.snapshot[packageid.ID{Name: rev.Name, Version: rev.Version}] = rev
	}
	if r.cfg.DryRun {
		return nil // writes nothing
	}
	raw, _ := json.MarshalIndent(indexState{Upstream: r.cfg.From, Version: st.Version, Cursor: st.Cursor, StatementSHA256: sum}, "", "  ")
	if err := os.MkdirAll(filepath.Dir(state), 0o755); err != nil {
		return fmt.Errorf("index state: %w", err)
	}
	if err := os.WriteFile(state+".tmp", raw, 0o644); err != nil {
		return fmt.Errorf("index state: %w", err)
	}
	if err := os.Rename(state+".tmp", state); err != nil {
		return fmt.Errorf("index state: %w", err)
	}
	return nil
}

// verifyUpstreamIndex checks a statement and its snapshot: both signed by
// kr, bound to each other, not expired.
func verifyUpstreamIndex(kr *signature.Keyring, stDoc, snDoc api.SignedDocument, now time.Time) (*api.IndexStatement, *api.IndexSnapshot, error) {
	if _, err := indexsig.Verify(kr, stDoc); err != nil {
		return nil, nil, err
	}
	st, err := indexsig.ParseStatement(stDoc.Body)
	if err != nil {
		return nil, nil, err
	}
	if !now.Before(st.Expires) {
		return nil, nil, fmt.Errorf("%w: statement %d expired at %s", indexsig.ErrExpired, st.Version, st.Expires)
	}
	if _, err := indexsig.Verify(kr, snDoc); err != nil {
		return nil, nil, fmt.Errorf("snapshot: %w", err)
	}
	if got := indexsig.SHA256(snDoc.Body); got != st.SnapshotSHA256 {
		return nil, nil, fmt.Errorf("%w: snapshot has sha256 %s, statement %d names %s", indexsig.ErrMismatch, got, st.Version, st.SnapshotSHA256)
	}
	sn, err := indexsig.ParseSnapshot(snDoc.Body)
	if err != nil {
		return nil, nil, err
	}
	if sn.Version != st.Version || sn.Cursor != st.Cursor {
		return nil, nil, fmt.Errorf("%w: snapshot %d of cursor %s with statement %d of cursor %s", indexsig.ErrMismatch, sn.Version, sn.Cursor, st.Version, st.Cursor)
	}
	return st, sn, nil
}

// checkSnapshot refuses a downloaded zip the verified snapshot does not
// list with exactly its SHA-256 and size.
func (r *run) checkSnapshot(id packageid.ID, got *Fetched) error {
	if r.snapshot == nil {
		return nil
	}
	want, ok := r.snapshot[id]
	switch {
	case !ok:
		return fmt.Errorf("%w: %s is not in the upstream's signed snapshot", ErrVerify, id)
	case want.SHA256 != got.SHA256 || want.Size != got.Size:
		return fmt.Errorf("%w: %s has sha256 %s and %d bytes; the upstream's signed snapshot says %s and %d", ErrVerify, id, got.SHA256, got.Size, want.SHA256, want.Size)
	}
	return nil
}
