// Package yank withdraws published revisions from new installs without
// deleting them, as PEP 592 does for Python packages: a yanked revision
// leaves the search index (so /search and /categories no longer offer it,
// and the index EPR reads lists it as removed), while everything pinned to
// it (its document, zip, signature and static files) keeps being served by
// our registry.
//
// The state of a revision is a sequence of write-once objects,
// pkgstore/yanks/NAME-VERSION@<generation>, each created only if absent:
// the highest generation says whether it is yanked, why, by whom and when.
// Two racing yanks can never both win a generation, and no object is ever
// rewritten.
package yank

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/govern/audit"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/storage"
)

// Prefix holds the yank records in the internal bucket.
const Prefix = storage.OwnPrefix + "yanks/"

// MaxReason bounds the length of a yank reason.
const MaxReason = 1000

// State is one generation of a revision's yank state (the wire shape is
// api's).
type State = api.YankState

// Errors callers branch on.
var (
	ErrNotPublished = errors.New("not published")
	ErrBadReason    = errors.New("bad reason")
)

// Store reads and changes yank states.
type Store struct {
	b     *storage.Buckets
	audit *audit.Log
	// OnChange is called after a yank or unyank (to schedule indexing).
	OnChange func(packageid.ID)
	// Log, if set, appends each state to the transparency log (once: it
	// is called again for the current state when a change is repeated,
	// which repairs a crash between the state and its record).
	Log func(context.Context, State) error

	mu    sync.Mutex
	cache map[string]State // by object key: objects never change
}

// New returns the store over b; log records the changes (nil: none).
func New(b *storage.Buckets, log *audit.Log) *Store {
	return &Store{b: b, audit: log, cache: map[string]State{}}
}

func genKey(id packageid.ID, gen int) string {
	return fmt.Sprintf("%s%s@%06d", Prefix, id, gen)
}

// parseGenKey splits pkgstore/yanks/NAME-VERSION@GEN.
func parseGenKey(key string) (packageid.ID, int, bool) {
	rest, ok := strings.CutPrefix(key, Prefix)
	if !ok {
		return packageid.ID{}, 0, false
	}
	i := strings.LastIndexByte(rest, '@')
	if i < 0 {
		return packageid.ID{}, 0, false
	}
	id, err := packageid.Parse(rest[:i])
	if err != nil {
		return packageid.ID{}, 0, false
	}
	gen, err := strconv.Atoi(rest[i+1:])
	if err != nil || gen <= 0 {
		return packageid.ID{}, 0, false
	}
	return id, gen, true
}

func (s *Store) read(ctx context.Context, key string) (State, error) {
	s.mu.Lock()
	st, ok := s.cache[key]
	s.mu.Unlock()
	if ok {
		return st, nil
	}
	data, err := s.b.Internal.ReadAll(ctx, key)
	if err != nil {
		return State{}, fmt.Errorf("read yank record %s: %w", key, err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return State{}, fmt.Errorf("parse yank record %s: %w", key, err)
	}
	s.mu.Lock()
	s.cache[key] = st
	s.mu.Unlock()
	return st, nil
}

// Current returns the latest state of id; a revision never yanked has
// Generation 0.
func (s *Store) Current(ctx context.Context, id packageid.ID) (State, error) {
	objs, err := s.b.Internal.ListAll(ctx, &storage.ListOptions{Prefix: Prefix + id.String() + "@"})
	if err != nil {
		return State{}, fmt.Errorf("list yank records of %s: %w", id, err)
	}
	top, topKey := 0, ""
	for _, o := range objs {
		if oid, gen, ok := parseGenKey(o.Key); ok && oid == id && gen > top {
			top, topKey = gen, o.Key
		}
	}
	if top == 0 {
		return State{Name: id.Name, Version: id.Version}, nil
	}
	return s.read(ctx, topKey)
}

// Yanked returns the revisions yanked now.
func (s *Store) Yanked(ctx context.Context) (map[packageid.ID]State, error) {
	objs, err := s.b.Internal.ListAll(ctx, &storage.ListOptions{Prefix: Prefix})
	if err != nil {
		return nil, fmt.Errorf("list yank records: %w", err)
	}
	top := map[packageid.ID]int{}
	keys := map[packageid.ID]string{}
	for _, o := range objs {
		if id, gen, ok := parseGenKey(o.Key); ok && gen > top[id] {
			top[id], keys[id] = gen, o.Key
		}
	}
	out := map[packageid.ID]State{}
	for id, key := range keys {
		st, err := s.read(ctx, key)
		if err != nil {
			return nil, err
		}
		if st.Yanked {
			out[id] = st
		}
	}
	return out, nil
}

// Hidden returns the set of yanked revisions, for the indexer.
func (s *Store) Hidden(ctx context.Context) (map[packageid.ID]bool, error) {
	y, err := s.Yanked(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[packageid.ID]bool, len(y))
	for id := range y {
		out[id] = true
	}
	return out, nil
}

// Change is a request to yank or unyank.
type Change struct {
	ID     packageid.ID
	Yank   bool
	Reason string
	Token  string
	Client string
}

// Set yanks or unyanks a published revision. changed is false when it was
// already in the requested state (the call then only makes sure the audit
// record of that state exists, which repairs a crash between the two
// writes).
func (s *Store) Set(ctx context.Context, c Change) (st State, changed bool, err error) {
	if err := c.ID.Validate(); err != nil {
		return State{}, false, err
	}
	if c.Yank && strings.TrimSpace(c.Reason) == "" {
		return State{}, false, fmt.Errorf("%w: a yank needs a reason (it is shown to everyone who pinned the revision)", ErrBadReason)
	}
	if len(c.Reason) > MaxReason {
		return State{}, false, fmt.Errorf("%w: reason is %d bytes, longer than %d", ErrBadReason, len(c.Reason), MaxReason)
	}
	published, err := s.b.Public.Exists(ctx, storage.ZipKey(c.ID))
	if err != nil {
		return State{}, false, fmt.Errorf("check %s: %w", c.ID, err)
	}
	if !published {
		return State{}, false, fmt.Errorf("%s is %w", c.ID, ErrNotPublished)
	}
	for attempt := range 50 {
		if attempt > 0 {
			// Lost a generation to a concurrent change: back off a little,
			// at random, so that racers do not collide again and again.
			select {
			case <-ctx.Done():
				return State{}, false, ctx.Err()
			case <-time.After(time.Duration(mrand.IntN(10*attempt)+1) * time.Millisecond):
			}
		}
		cur, err := s.Current(ctx, c.ID)
		if err != nil {
			return State{}, false, err
		}
		if cur.Yanked == c.Yank {
			if cur.Generation > 0 {
				if err := s.record(ctx, cur); err != nil {
					return cur, false, err
				}
			}
			return cur, false, nil
		}
		now := time.Now().UTC()
		next := State{Name: c.ID.Name, Version: c.ID.Version, Yanked: c.Yank, Reason: c.Reason, Token: c.Token, Client: c.Client, Time: now, Generation: cur.Generation + 1, AuditID: audit.NewID(now)}
		data, _ := json.MarshalIndent(next, "", "  ")
		err = s.b.Internal.CreateIfAbsent(ctx, genKey(c.ID, next.Generation), bytes.NewReader(data), &storage.WriterOptions{ContentType: "application/json"})
		if errors.Is(err, storage.ErrExists) {
			continue // another yank or unyank won this generation: look again
		}
		if err != nil {
			return State{}, false, fmt.Errorf("record yank of %s: %w", c.ID, err)
		}
		if err := s.record(ctx, next); err != nil {
			return next, true, err
		}
		if s.OnChange != nil {
			s.OnChange(c.ID)
		}
		return next, true, nil
	}
	return State{}, false, fmt.Errorf("yank of %s: too many concurrent changes, try again", c.ID)
}

// record writes the audit record of st, once.
func (s *Store) record(ctx context.Context, st State) error {
	if s.Log != nil && st.Generation > 0 {
		if err := s.Log(ctx, st); err != nil {
			return err
		}
	}
	if s.audit == nil || st.AuditID == "" {
		return nil
	}
	ev := audit.Unyanked
	if st.Yanked {
		ev = audit.Yanked
	}
	return s.audit.Put(ctx, audit.Record{ID: st.AuditID, Event: ev, Time: st.Time, Token: st.Token, Client: st.Client, Package: st.Name, Version: st.Version, Reason: st.Reason})
}

// History returns every state change of id, oldest first.
func (s *Store) History(ctx context.Context, id packageid.ID) ([]State, error) {
	objs, err := s.b.Internal.ListAll(ctx, &storage.ListOptions{Prefix: Prefix + id.String() + "@"})
	if err != nil {
		return nil, fmt.Errorf("list yank records of %s: %w", id, err)
	}
	var out []State
	for _, o := range objs {
		if oid, _, ok := parseGenKey(o.Key); ok && oid == id {
			st, err := s.read(ctx, o.Key)
			if err != nil {
				return nil, err
			}
			out = append(out, st)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Generation < out[j].Generation })
	return out, nil
}
