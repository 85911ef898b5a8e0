package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"pkgstore/internal/api"
	"pkgstore/internal/publish/indexsig"
)

// TrustSource reads a registry's signed index documents
// (/api/v1/trust/…, docs/trust.md); it is an indexsig.Source.
type TrustSource struct {
	BaseURL string
	HTTP    *http.Client // nil: http.DefaultClient
}

// Latest implements indexsig.Source: the version of the statement the
// registry serves.
func (s TrustSource) Latest(ctx context.Context) (uint64, error) {
	doc, err := s.fetch(ctx, "index", indexsig.MaxStatementSize)
	if err != nil {
		return 0, err
	}
	st, err := indexsig.ParseStatement(doc.Body)
	if err != nil {
		return 0, err
	}
	return st.Version, nil
}

// Statement implements indexsig.Source.
func (s TrustSource) Statement(ctx context.Context, v uint64) (api.SignedDocument, error) {
	return s.fetch(ctx, "index/"+strconv.FormatUint(v, 10), indexsig.MaxStatementSize)
}

// Current returns the statement the registry serves and its snapshot,
// signatures not yet checked.
func (s TrustSource) Current(ctx context.Context) (statement, snapshot api.SignedDocument, err error) {
	if statement, err = s.fetch(ctx, "index", indexsig.MaxStatementSize); err != nil {
		return
	}
	snapshot, err = s.fetch(ctx, "snapshot", indexsig.MaxSnapshotSize)
	return
}

// fetch reads a document and its signature (indexsig.ErrMissing on 404).
func (s TrustSource) fetch(ctx context.Context, name string, max int64) (api.SignedDocument, error) {
	body, err := s.get(ctx, name, max)
	if err != nil {
		return api.SignedDocument{}, err
	}
	sig, err := s.get(ctx, name+".sig", 64<<10)
	if err != nil {
		return api.SignedDocument{}, err
	}
	return api.SignedDocument{Body: body, Signature: string(sig)}, nil
}

func (s TrustSource) get(ctx context.Context, name string, max int64) ([]byte, error) {
	u := strings.TrimRight(s.BaseURL, "/") + "/api/v1/trust/" + name
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	hc := s.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%w: GET %s: 404", indexsig.ErrMissing, u)
	case resp.StatusCode != http.StatusOK:
		return nil, &StatusError{URL: u, StatusCode: resp.StatusCode, Status: resp.Status}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: GET %s: more than %d bytes", indexsig.ErrMalformed, u, max)
	}
	return data, nil
}
