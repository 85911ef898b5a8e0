package audit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"pkgstore/internal/api"
)

// Query selects records. Zero fields match everything.
type Query struct {
	Package string
	Version string
	Token   string
	Event   Event
	Since   time.Time // inclusive
	Until   time.Time // exclusive
	// Allow, if set, further limits the packages whose records are
	// returned (a token's package patterns); records without a package
	// are returned only if Allow("") is true.
	Allow func(pkg string) bool
	// Cursor continues a previous page (Page.Next).
	Cursor string
	// Limit is the page size; 0 means DefaultLimit, at most MaxLimit.
	Limit int
}

// ErrBadCursor is returned for a cursor that no page returned.
var ErrBadCursor = errors.New("bad cursor")

// Page sizes.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Page is one page of records, oldest first (the wire shape is api's).
type Page = api.AuditPage

// Query returns the records matching q, oldest first, a page at a time.
// Only the days in [Since, Until) are listed, and only the returned records
// are read.
func (l *Log) Query(ctx context.Context, q Query) (*Page, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	var after *keyFields
	afterDay := ""
	if q.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		kf, ok := parseKey(string(raw))
		if err != nil || !ok {
			return nil, fmt.Errorf("%w %q: pass the next value of a previous page", ErrBadCursor, q.Cursor)
		}
		after, afterDay = &kf, day(kf.t)
	}
	days, err := l.days(ctx)
	if err != nil {
		return nil, err
	}
	var hits []keyFields
	more := false
scan:
	for _, d := range days {
		if !q.Since.IsZero() && d < day(q.Since) || !q.Until.IsZero() && d > day(q.Until) {
			continue
		}
		if d < afterDay {
			continue
		}
		names, _, err := l.b.ListLevel(ctx, Prefix+d+"/")
		if err != nil {
			return nil, fmt.Errorf("list audit records: %w", err)
		}
		keys := make([]keyFields, 0, len(names))
		for _, name := range names {
			if kf, ok := parseKey(name); ok {
				keys = append(keys, kf)
			}
		}
		sort.Slice(keys, func(i, j int) bool { return compare(keys[i], keys[j]) < 0 })
		for _, kf := range keys {
			if after != nil && compare(kf, *after) <= 0 || !q.matches(kf) {
				continue
			}
			if len(hits) == limit {
				more = true
				break scan
			}
			hits = append(hits, kf)
		}
	}
	recs := make([]Record, len(hits))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, kf := range hits {
		g.Go(func() error {
			data, err := l.b.ReadAll(gctx, kf.key)
			if err != nil {
				return fmt.Errorf("read audit record %s: %w", kf.key, err)
			}
			if err := json.Unmarshal(data, &recs[i]); err != nil {
				return fmt.Errorf("parse audit record %s: %w", kf.key, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	p := &Page{Records: recs}
	if more && len(hits) > 0 {
		p.Next = base64.RawURLEncoding.EncodeToString([]byte(hits[len(hits)-1].key))
	}
	return p, nil
}

// rank orders the events of one submission, which share its id.
var rank = map[Event]int{Received: 0, Refused: 1, Passed: 1, Published: 1}

// compare orders records by id (time), then a submission's events in the
// order they happen.
func compare(a, b keyFields) int {
	switch {
	case a.id != b.id:
		return strings.Compare(a.id, b.id)
	case rank[a.event] != rank[b.event]:
		return rank[a.event] - rank[b.event]
	}
	return strings.Compare(a.key, b.key)
}

func (q *Query) matches(kf keyFields) bool {
	switch {
	case q.Package != "" && kf.pkg != q.Package,
		q.Version != "" && kf.version != q.Version,
		q.Token != "" && kf.tokenName != q.Token,
		q.Event != "" && kf.event != q.Event,
		!q.Since.IsZero() && kf.t.Before(q.Since),
		!q.Until.IsZero() && !kf.t.Before(q.Until),
		q.Allow != nil && !q.Allow(kf.pkg):
		return false
	}
	return true
}

// days lists the day folders, oldest first.
func (l *Log) days(ctx context.Context) ([]string, error) {
	_, dirs, err := l.b.ListLevel(ctx, Prefix)
	if err != nil {
		return nil, fmt.Errorf("list audit days: %w", err)
	}
	var out []string
	for _, dir := range dirs {
		d := strings.TrimSuffix(strings.TrimPrefix(dir, Prefix), "/")
		if _, err := time.Parse("2006-01-02", d); err == nil {
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out, nil
}

// All returns every record matching q (following every page).
func (l *Log) All(ctx context.Context, q Query) ([]Record, error) {
	q.Limit = MaxLimit
	return api.CollectAudit(q.Cursor, func(cursor string) (*Page, error) {
		q.Cursor = cursor
		return l.Query(ctx, q)
	})
}

// ParseEvent checks an event name from a query.
func ParseEvent(s string) (Event, error) {
	if s == "" || knownEvents[Event(s)] {
		return Event(s), nil
	}
	names := make([]string, 0, len(knownEvents))
	for e := range knownEvents {
		names = append(names, string(e))
	}
	sort.Strings(names)
	return "", fmt.Errorf("unknown event %q (expected one of %s)", s, strings.Join(names, ", "))
}
