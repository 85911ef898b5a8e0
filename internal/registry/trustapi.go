package registry

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"pkgstore/internal/api"
	"pkgstore/internal/api/apijson"
	"pkgstore/internal/publish/indexsig"
	"pkgstore/internal/storage"
)

// TrustPrefix starts the read-only routes of the signed index documents
// (docs/trust.md).
const TrustPrefix = "/api/v1/trust/"

// ServeTrust answers the routes under TrustPrefix, each a document and,
// with ".sig", its armored detached signature:
//
//	index             the statement of the index served
//	index/VERSION     statement VERSION (the chain, for verify-index)
//	snapshot          the snapshot that statement names
//
// A registry checking statements (--index-keyring) serves the statement
// it verified; otherwise the one the bucket holds for the cursor served.
// Readers verify them: nothing here is trusted because of where it came
// from.
func (r *Registry) ServeTrust(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		apijson.Error(w, http.StatusMethodNotAllowed, "method %s not allowed", req.Method)
		return
	}
	name := strings.TrimPrefix(req.URL.Path, TrustPrefix)
	name, sig := strings.CutSuffix(name, ".sig")
	ctx := req.Context()
	var doc api.SignedDocument
	var err error
	switch {
	case name == "index":
		doc, err = r.currentStatement(ctx)
	case name == "snapshot":
		doc, err = r.currentStatement(ctx)
		if err == nil {
			var st *api.IndexStatement
			if st, err = indexsig.ParseStatement(doc.Body); err == nil {
				doc, err = r.snapshotDoc(ctx, st.SnapshotSHA256)
			}
		}
	case strings.HasPrefix(name, "index/"):
		v, perr := strconv.ParseUint(strings.TrimPrefix(name, "index/"), 10, 64)
		if perr != nil || v == 0 {
			apijson.Error(w, http.StatusNotFound, "no such statement %q", strings.TrimPrefix(name, "index/"))
			return
		}
		doc, err = indexsig.ReadDocument(ctx, r.buckets.Internal, storage.TrustStatementKey(v), indexsig.MaxStatementSize)
	default:
		apijson.Error(w, http.StatusNotFound, "not found")
		return
	}
	if errors.Is(err, indexsig.ErrMissing) {
		apijson.Error(w, http.StatusNotFound, "%v", err)
		return
	}
	if err != nil {
		r.log.Error("trust document", "path", req.URL.Path, "err", err)
		apijson.Error(w, http.StatusInternalServerError, "cannot read the signed index document")
		return
	}
	body, ctype := doc.Body, "application/json"
	if sig {
		body, ctype = []byte(doc.Signature), "application/pgp-signature"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	// Each poll must see a re-issued statement: no caching.
	w.Header().Set("Cache-Control", "no-cache")
	if req.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

// snapshotCache keeps the last snapshot served: it is named by its hash,
// so it never goes stale, and a snapshot (about 150 bytes a revision) is
// read from the bucket once per statement, not once per request.
type snapshotCache struct {
	sha string
	doc api.SignedDocument
}

func (r *Registry) snapshotDoc(ctx context.Context, sha string) (api.SignedDocument, error) {
	if c := r.snapCache.Load(); c != nil && c.sha == sha {
		return c.doc, nil
	}
	doc, err := indexsig.ReadDocument(ctx, r.buckets.Internal, storage.TrustSnapshotKey(sha), indexsig.MaxSnapshotSize)
	if err == nil && indexsig.SHA256(doc.Body) == sha {
		r.snapCache.Store(&snapshotCache{sha: sha, doc: doc})
	}
	return doc, err
}

// currentStatement is the statement of the index served.
func (r *Registry) currentStatement(ctx context.Context) (api.SignedDocument, error) {
	if doc, ok := r.TrustedStatement(); ok {
		return doc, nil
	}
	s := r.snap.Load()
	if s == nil || s.store.Cursor() == "" {
		return api.SignedDocument{}, indexsig.ErrMissing
	}
	return indexsig.ReadDocument(ctx, r.buckets.Internal, storage.TrustCursorKey(s.store.Cursor()), indexsig.MaxStatementSize)
}
