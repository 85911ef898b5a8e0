// Package audit is the store's audit log: one write-once JSON object per
// event in the internal bucket, under pkgstore/audit/DAY/. No record is ever
// rewritten and no shared file is appended to, so any number of processes
// on any number of machines can record events at once.
//
// A record's key carries the fields queries filter on (time, event,
// package, version, token), so a query lists keys and reads only the
// records it returns:
//
//	pkgstore/audit/2026-12-01/<19-digit unix ns>-<12 hex>~<event>~<name>~<version>~<token>.json
package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/storage"
)

// Prefix holds the audit records in the internal bucket.
const Prefix = storage.OwnPrefix + "audit/"

// Event is what happened.
type Event = api.AuditEvent

// The events recorded.
const (
	Received     Event = "received"      // a candidate reached the queue
	Published    Event = "published"     // a revision was published
	Refused      Event = "refused"       // a submission was refused (Reasons)
	Passed       Event = "passed"        // a dry run passed every check
	Yanked       Event = "yanked"        // a revision was yanked (Reason)
	Unyanked     Event = "unyanked"      // a yank was withdrawn
	TokenRefused Event = "token_refused" // a request's token was refused (Reasons)
	// TokenRefusalsSuppressed counts a named token's refusals that were
	// not recorded one by one (Suppressed, WindowStart, WindowEnd; see
	// Refusals).
	TokenRefusalsSuppressed Event = "token_refusals_suppressed"
	// Resigned: `pkgstore resign` (or mirror --resign-key) replaced a
	// revision's served signature with the store key's (KeyID,
	// Fingerprint: the new key; Reasons: what vouched for the zip).
	Resigned Event = "resigned"
	// ResignRefused: a revision resign left alone because nothing trusted
	// vouches for its zip any more (Reasons).
	ResignRefused Event = "resign_refused"
)

var knownEvents = map[Event]bool{Received: true, Published: true, Refused: true, Passed: true, Yanked: true, Unyanked: true, TokenRefused: true, TokenRefusalsSuppressed: true, Resigned: true, ResignRefused: true}

// Record is one audit event (the wire shape is api's).
type Record = api.AuditRecord

// Log writes and queries the audit records of an internal bucket.
type Log struct {
	b   *storage.Bucket
	now func() time.Time
}

// New returns the log of bucket b (the internal bucket).
func New(b *storage.Bucket) *Log { return &Log{b: b, now: time.Now} }

// NewID returns a record id that sorts by time and does not collide
// across machines.
func NewID(t time.Time) string {
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return fmt.Sprintf("%019d-%s", t.UnixNano(), hex.EncodeToString(r[:]))
}

// Append records rec under a new id; rec.Time defaults to now.
func (l *Log) Append(ctx context.Context, rec Record) (Record, error) {
	if rec.Time.IsZero() {
		rec.Time = l.now().UTC()
	}
	rec.ID = NewID(rec.Time)
	return rec, l.write(ctx, rec, true)
}

// Put records rec under the id it carries (a submission's id), once: if
// that id already has a record of rec.Event, Put does nothing. Retried
// steps therefore never record an event twice.
func (l *Log) Put(ctx context.Context, rec Record) error {
	return l.put(ctx, rec, true)
}

// PutNoSync is Put for a writer that ends with a Sync of the bucket (the
// publishing job, whose commit point syncs): on file buckets the record is
// durable with that Sync instead of an fsync of its own.
func (l *Log) PutNoSync(ctx context.Context, rec Record) error {
	return l.put(ctx, rec, false)
}

func (l *Log) put(ctx context.Context, rec Record, durable bool) error {
	if rec.Time.IsZero() {
		rec.Time = l.now().UTC()
	}
	err := l.write(ctx, rec, durable)
	if errors.Is(err, storage.ErrExists) {
		return nil
	}
	return err
}

// Delete removes the record of event ev for id. Only the publishing job
// uses it, for a "published" record written before the zip of a
// publication that then never happened (it is the zip that publishes).
func (l *Log) Delete(ctx context.Context, id string, ev Event, pkg, version, token string) error {
	k, err := Key(Record{ID: id, Event: ev, Package: pkg, Version: version, Token: token})
	if err != nil {
		return err
	}
	if err := l.b.Delete(ctx, k); err != nil && !storage.IsNotFound(err) {
		return err
	}
	return nil
}

func (l *Log) write(ctx context.Context, rec Record, durable bool) error {
	key, err := Key(rec)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	create := l.b.CreateIfAbsent
	if !durable {
		create = l.b.CreateIfAbsentNoSync
	}
	if err := create(ctx, key, bytes.NewReader(data), &storage.WriterOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("audit record: %w", err)
	}
	return nil
}

// sep separates the fields of a key; it occurs in no package name,
// version, token name or event.
const sep = "~"

// Key returns the object key of rec.
func Key(rec Record) (string, error) {
	t, ok := idTime(rec.ID)
	if !ok {
		return "", fmt.Errorf("audit record id %q is not <19-digit ns>-<hex>", rec.ID)
	}
	if !knownEvents[rec.Event] {
		return "", fmt.Errorf("unknown audit event %q", rec.Event)
	}
	for _, f := range []string{rec.Package, rec.Version, rec.Token} {
		if !KeySafe(f) {
			return "", fmt.Errorf("audit record field %q cannot be part of a key", f)
		}
	}
	return Prefix + day(t) + "/" + strings.Join([]string{rec.ID, string(rec.Event), rec.Package, rec.Version, rec.Token}, sep) + ".json", nil
}

// KeySafe reports whether s can be a key field: it admits package names, semver versions and token names.
func KeySafe(s string) bool {
	if len(s) > 128 || strings.Contains(s, "..") {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '+') {
			return false
		}
	}
	return true
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

func idTime(id string) (time.Time, bool) {
	ts, rnd, ok := strings.Cut(id, "-")
	if !ok || len(ts) != 19 || rnd == "" {
		return time.Time{}, false
	}
	if _, err := hex.DecodeString(rnd); err != nil {
		return time.Time{}, false
	}
	ns, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}

// keyFields is what a key tells without reading the record.
type keyFields struct {
	key                     string
	id                      string
	t                       time.Time
	event                   Event
	pkg, version, tokenName string
}

func parseKey(key string) (keyFields, bool) {
	rest, ok := strings.CutPrefix(key, Prefix)
	if !ok {
		return keyFields{}, false
	}
	_, name, ok := strings.Cut(rest, "/")
	if !ok {
		return keyFields{}, false
	}
	name, ok = strings.CutSuffix(name, ".json")
	if !ok {
		return keyFields{}, false
	}
	f := strings.Split(name, sep)
	if len(f) != 5 {
		return keyFields{}, false
	}
	t, ok := idTime(f[0])
	if !ok {
		return keyFields{}, false
	}
	return keyFields{key: key, id: f[0], t: t, event: Event(f[1]), pkg: f[2], version: f[3], tokenName: f[4]}, true
}
