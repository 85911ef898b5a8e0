package indexsig

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/govern/provenance"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/publish/index"
	"pkgstore/internal/storage"
)

// DefaultValidity is how long a statement is valid (serve
// --index-validity): a replica or mirror that sees no newer one by then
// reports the index as frozen.
const DefaultValidity = 7 * 24 * time.Hour

// Issuer issues the statements of an indexer (Indexer.BeforeCommit).
type Issuer struct {
	Buckets *storage.Buckets
	Key     *signature.SigningKey
	// Validity is each statement's lifetime; a pass that changes nothing
	// re-issues the statement once less than half of it remains.
	Validity time.Duration
	Log      *slog.Logger
	Now      func() time.Time
}

func (is *Issuer) now() time.Time {
	if is.Now != nil {
		return is.Now()
	}
	return time.Now()
}

func (is *Issuer) validity() time.Duration {
	if is.Validity > 0 {
		return is.Validity
	}
	return DefaultValidity
}

func (is *Issuer) log() *slog.Logger {
	if is.Log != nil {
		return is.Log
	}
	return slog.New(slog.DiscardHandler)
}

// maxIssueAttempts bounds the versions an issuer tries when other
// indexers keep taking them.
const maxIssueAttempts = 10

// Commit issues the statement of c.Next, before cursor.json moves there;
// for a pass that changed nothing (c.Next == c.Prev) only when the newest
// statement is not for that cursor or is past half its validity.
func (is *Issuer) Commit(ctx context.Context, c index.Commit) error {
	in := is.Buckets.Internal
	latest, latestBody, err := Latest(ctx, in)
	if err != nil && !errors.Is(err, ErrMissing) {
		return fmt.Errorf("index statement: %w", err)
	}
	if c.Next == c.Prev && is.fresh(latest, c.Next) {
		return nil
	}
	allSum, _, err := HashObject(ctx, in, storage.IndexAllKey(c.Next))
	if err != nil {
		return fmt.Errorf("index statement: %w", err)
	}
	if allSum == "" {
		return fmt.Errorf("index statement: %s is missing", storage.IndexAllKey(c.Next))
	}
	deltaSum, _, err := HashObject(ctx, in, storage.IndexDeltaKey(c.Next))
	if err != nil {
		return fmt.Errorf("index statement: %w", err)
	}
	revs, err := is.snapshotRevisions(ctx, latest, c.Revisions)
	if err != nil {
		return fmt.Errorf("index snapshot: %w", err)
	}
	for range maxIssueAttempts {
		st := api.IndexStatement{Type: api.IndexStatementType, Version: 1, Cursor: c.Next, IndexSHA256: allSum, DeltaSHA256: deltaSum, Revisions: len(c.Revisions)}
		if latest != nil {
			if latest.Version == math.MaxUint64 {
				return fmt.Errorf("index statement: version %d cannot grow", latest.Version)
			}
			st.Version, st.Previous = latest.Version+1, SHA256(latestBody)
		}
		now := is.now().UTC().Truncate(time.Second)
		st.Issued, st.Expires = now, now.Add(is.validity())
		snapBody, err := marshal(api.IndexSnapshot{Type: api.IndexSnapshotType, Version: st.Version, Cursor: c.Next, Issued: st.Issued, Expires: st.Expires, Revisions: revs})
		if err != nil {
			return err
		}
		st.SnapshotSHA256 = SHA256(snapBody)
		// The snapshot is named by its hash: a racing indexer's snapshot
		// never replaces the one a statement names.
		if err := is.write(ctx, storage.TrustSnapshotKey(st.SnapshotSHA256), snapBody, false); err != nil {
			return fmt.Errorf("index snapshot: %w", err)
		}
		body, err := marshal(st)
		if err != nil {
			return err
		}
		err = is.write(ctx, storage.TrustStatementKey(st.Version), body, true)
		if errors.Is(err, storage.ErrExists) {
			// Another indexer took this version: build on its statement.
			doc, rerr := ReadDocument(ctx, in, storage.TrustStatementKey(st.Version), MaxStatementSize)
			if rerr != nil {
				return fmt.Errorf("index statement %d: %w", st.Version, rerr)
			}
			if latest, rerr = ParseStatement(doc.Body); rerr != nil {
				return fmt.Errorf("index statement %d: %w", st.Version, rerr)
			}
			latestBody = doc.Body
			if c.Next == c.Prev && is.fresh(latest, c.Next) {
				return nil
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("index statement %d: %w", st.Version, err)
		}
		if err := is.write(ctx, storage.TrustCursorKey(c.Next), body, false); err != nil {
			return fmt.Errorf("index statement %d: %w", st.Version, err)
		}
		if err := is.write(ctx, storage.TrustLatestKey, body, false); err != nil {
			return fmt.Errorf("index statement %d: %w", st.Version, err)
		}
		is.log().Info("index statement issued", "version", st.Version, "cursor", st.Cursor, "expires", st.Expires, "revisions", st.Revisions)
		return nil
	}
	return fmt.Errorf("index statement: other indexers took %d versions in a row", maxIssueAttempts)
}

// fresh reports whether latest is for cursor with more than half its
// validity left.
func (is *Issuer) fresh(latest *api.IndexStatement, cursor string) bool {
	if latest == nil || latest.Cursor != cursor {
		return false
	}
	half := latest.Expires.Sub(latest.Issued) / 2
	return is.now().Before(latest.Issued.Add(half))
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// write signs body and stores it at key (created if absent when once).
func (is *Issuer) write(ctx context.Context, key string, body []byte, once bool) error {
	doc, err := Sign(is.Key, body)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	opts := &storage.WriterOptions{ContentType: "application/json"}
	if once {
		return is.Buckets.Internal.CreateIfAbsent(ctx, key, bytes.NewReader(raw), opts)
	}
	return is.Buckets.Internal.WriteAll(ctx, key, raw, opts)
}

// snapshotRevisions lists revs with their zips' SHA-256 and size: from the
// previous snapshot when it has them (a pass adds a few revisions), else
// from each revision's provenance record, else from the zip itself (a zip
// placed in the bucket by other means).
func (is *Issuer) snapshotRevisions(ctx context.Context, latest *api.IndexStatement, revs map[packageid.ID]bool) ([]api.SnapshotRevision, error) {
	known := map[packageid.ID]api.SnapshotRevision{}
	if latest != nil {
		doc, err := ReadDocument(ctx, is.Buckets.Internal, storage.TrustSnapshotKey(latest.SnapshotSHA256), MaxSnapshotSize)
		if err == nil && SHA256(doc.Body) == latest.SnapshotSHA256 {
			if sn, err := ParseSnapshot(doc.Body); err == nil {
				for _, r := range sn.Revisions {
					known[packageid.ID{Name: r.Name, Version: r.Version}] = r
				}
			}
		}
	}
	out := make([]api.SnapshotRevision, 0, len(revs))
	for id := range revs {
		if r, ok := known[id]; ok {
			out = append(out, r)
			continue
		}
		r := api.SnapshotRevision{Name: id.Name, Version: id.Version}
		rec, err := provenance.Read(ctx, is.Buckets.Internal, id)
		switch {
		case err == nil && rec.SHA256 != "" && rec.Size > 0:
			r.SHA256, r.Size = strings.ToLower(rec.SHA256), rec.Size
		case err == nil || storage.IsNotFound(err):
			if r.SHA256, r.Size, err = HashObject(ctx, is.Buckets.Public, storage.ZipKey(id)); err != nil {
				return nil, err
			}
			if r.SHA256 == "" {
				return nil, fmt.Errorf("%s: zip vanished while indexing", id)
			}
		default:
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return packageid.Compare(out[i].Version, out[j].Version) < 0
	})
	return out, nil
}

// Latest returns the newest statement of the store and its body (ErrMissing
// when none was issued). It starts at pkgstore/trust/latest.json and
// confirms no higher version exists; without that hint, it lists them.
// Signatures are not checked here.
func Latest(ctx context.Context, b *storage.Bucket) (*api.IndexStatement, []byte, error) {
	var v uint64
	doc, err := ReadDocument(ctx, b, storage.TrustLatestKey, MaxStatementSize)
	switch {
	case err == nil:
		st, err := ParseStatement(doc.Body)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", storage.TrustLatestKey, err)
		}
		v = st.Version
	case errors.Is(err, ErrMissing):
		if v, err = highestListed(ctx, b); err != nil {
			return nil, nil, err
		}
		if v == 0 {
			return nil, nil, fmt.Errorf("%w: no statement issued yet", ErrMissing)
		}
	default:
		return nil, nil, err
	}
	// The hint lags when an indexer stopped between creating a statement
	// and updating it; a few probes catch up.
	for i := 0; i < 1000; i++ {
		ok, err := b.Exists(ctx, storage.TrustStatementKey(v+1))
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			break
		}
		v++
	}
	doc, err = ReadDocument(ctx, b, storage.TrustStatementKey(v), MaxStatementSize)
	if err != nil {
		return nil, nil, err
	}
	st, err := ParseStatement(doc.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", storage.TrustStatementKey(v), err)
	}
	if st.Version != v {
		return nil, nil, fmt.Errorf("%w: %s holds version %d", ErrChain, storage.TrustStatementKey(v), st.Version)
	}
	return st, doc.Body, nil
}

func highestListed(ctx context.Context, b *storage.Bucket) (uint64, error) {
	objs, err := b.ListAll(ctx, &storage.ListOptions{Prefix: storage.TrustPrefix + "index/"})
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, o := range objs {
		var n uint64
		name := strings.TrimPrefix(o.Key, storage.TrustPrefix+"index/")
		if _, err := fmt.Sscanf(name, "%020d.json", &n); err == nil && n > v {
			v = n
		}
	}
	return v, nil
}
