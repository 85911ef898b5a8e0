package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"pkgstore/internal/api"
	"pkgstore/internal/pkg/packageid"
)

// AuditQuery are the filters of GET /api/v1/audit; times are passed as
// given (RFC 3339, a date, or an age such as 7d).
type AuditQuery struct {
	Package, Version, Token, Event string
	Since, Until                   string
	Cursor                         string
	Limit                          int
}

// Audit returns one page of audit records.
func (c *Client) Audit(ctx context.Context, q AuditQuery) (*api.AuditPage, error) {
	v := url.Values{}
	for k, s := range map[string]string{"package": q.Package, "version": q.Version, "token": q.Token, "event": q.Event, "since": q.Since, "until": q.Until, "cursor": q.Cursor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var p api.AuditPage
	if err := c.call(ctx, http.MethodGet, "/api/v1/audit?"+v.Encode(), nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// AuditAll follows every page of a query.
func (c *Client) AuditAll(ctx context.Context, q AuditQuery) ([]api.AuditRecord, error) {
	return api.CollectAudit(q.Cursor, func(cursor string) (*api.AuditPage, error) {
		q.Cursor = cursor
		return c.Audit(ctx, q)
	})
}

// Yank yanks (or, with yank false, unyanks) a published revision.
func (c *Client) Yank(ctx context.Context, id packageid.ID, yank bool, reason string) (*api.YankResponse, error) {
	path := "/api/v1/unyank"
	if yank {
		path = "/api/v1/yank"
	}
	body, _ := json.Marshal(api.YankRequest{Name: id.Name, Version: id.Version, Reason: reason})
	var out api.YankResponse
	if err := c.call(ctx, http.MethodPost, path, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Revision returns the provenance and yank state of a published revision.
func (c *Client) Revision(ctx context.Context, id packageid.ID) (*api.RevisionInfo, error) {
	var out api.RevisionInfo
	if err := c.call(ctx, http.MethodGet, "/api/v1/packages/"+url.PathEscape(id.Name)+"/"+url.PathEscape(id.Version), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// call does one JSON request of the governance API.
func (c *Client) call(ctx context.Context, method, path string, body []byte, out any) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path), r)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e api.ErrorBody
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		return &APIError{StatusCode: resp.StatusCode, Message: e.Error}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%w: %s", ErrUnexpected, strings.TrimSpace(string(data)))
	}
	return nil
}
