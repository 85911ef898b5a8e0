package audit

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// RefusalLimits bound the token_refused records of one named token.
type RefusalLimits struct {
	// Burst refusals are recorded one by one at once (default 10), then
	// PerMinute a minute (default 1).
	Burst     int
	PerMinute float64
	// Window is how long one token_refusals_suppressed record collects
	// the refusals not recorded one by one (default 1 minute).
	Window time.Duration
}

// DefaultRefusalLimits are the limits of a store.
var DefaultRefusalLimits = RefusalLimits{Burst: 10, PerMinute: 1, Window: time.Minute}

// Bounds of what one summary keeps and of the tokens followed.
const (
	maxSummaryReasons = 10
	maxSummaryClients = 100
	maxRefusalTokens  = 10000
)

// Refusals records the refused requests of named tokens at a bounded
// rate. A listed token's secret, expired or used beyond its scopes, must
// not turn a request loop into a permanent record per request: each token
// has a token bucket of records written one by one (Burst at once, then
// PerMinute); the refusals beyond it are only counted, in memory, and one
// token_refusals_suppressed record per token and Window carries their
// count, first and last time and reasons. Counting costs no write at all;
// the summary of a window is written by the first refusal after the
// window ends, by Run soon after it ends, or by Flush (graceful shutdown).
// A crash loses the count of each token's open window, at most one Window
// of refusals.
//
// State is kept per token name, and token names come from the tokens
// file, so memory is bounded by the tokens listed (idle tokens are
// forgotten); unknown secrets never get here.
type Refusals struct {
	log  *Log
	lim  RefusalLimits
	lg   *slog.Logger
	now  func() time.Time
	tick time.Duration // how often Run looks for ended windows

	mu     sync.Mutex
	tokens map[string]*refusalState
}

type refusalState struct {
	allowance float64 // records that may be written one by one now
	at        time.Time

	// The open window: refusals counted, not recorded.
	n           int
	first, last time.Time
	reasons     map[string]int
	otherReason int // refusals whose reason did not fit in reasons
	clients     map[string]bool
	moreClients bool
	client      string // the only client, package and action so far,
	pkg, action string // "" when they differed
}

// NewRefusals returns the bounded recorder of log's token refusals;
// errors writing summaries are logged to lg.
func NewRefusals(log *Log, lim RefusalLimits, lg *slog.Logger) *Refusals {
	if lim.Burst < 1 {
		lim.Burst = DefaultRefusalLimits.Burst
	}
	if lim.PerMinute <= 0 {
		lim.PerMinute = DefaultRefusalLimits.PerMinute
	}
	if lim.Window <= 0 {
		lim.Window = DefaultRefusalLimits.Window
	}
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	return &Refusals{log: log, lim: lim, lg: lg, now: time.Now, tick: max(lim.Window/10, 10*time.Millisecond), tokens: map[string]*refusalState{}}
}

// Record records rec, a TokenRefused record of a named token (rec.Token),
// or counts it for its token's summary. recorded tells which; err is the
// error writing a record.
func (r *Refusals) Record(ctx context.Context, rec Record) (recorded bool, err error) {
	if rec.Token == "" {
		_, err := r.log.Append(ctx, rec)
		return true, err
	}
	now := r.now()
	r.mu.Lock()
	st := r.tokens[rec.Token]
	if st == nil {
		if len(r.tokens) >= maxRefusalTokens {
			r.forgetIdle(now)
		}
		st = &refusalState{allowance: float64(r.lim.Burst), at: now}
		r.tokens[rec.Token] = st
	}
	var due *Record
	if st.n > 0 && !now.Before(st.first.Add(r.lim.Window)) {
		due = st.summary(rec.Token, now)
	}
	st.refill(now, r.lim)
	recorded = st.allowance >= 1
	if recorded {
		st.allowance--
	} else {
		st.add(rec, now)
	}
	r.mu.Unlock()
	if due != nil {
		r.write(ctx, *due)
	}
	if recorded {
		_, err = r.log.Append(ctx, rec)
	}
	return recorded, err
}

// Run writes the summaries of windows that ended, every tenth of a window,
// until ctx ends; it then flushes the open windows.
func (r *Refusals) Run(ctx context.Context) {
	t := time.NewTicker(r.tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			r.Flush(fctx)
			return
		case <-t.C:
			r.flush(ctx, false)
		}
	}
}

// Flush writes the summary of every open window now (graceful shutdown).
func (r *Refusals) Flush(ctx context.Context) { r.flush(ctx, true) }

func (r *Refusals) flush(ctx context.Context, all bool) {
	now := r.now()
	var due []Record
	r.mu.Lock()
	for name, st := range r.tokens {
		if st.n > 0 && (all || !now.Before(st.first.Add(r.lim.Window))) {
			due = append(due, *st.summary(name, now))
		}
	}
	r.forgetIdle(now)
	r.mu.Unlock()
	for _, rec := range due {
		r.write(ctx, rec)
	}
}

// forgetIdle drops the tokens with nothing counted and a full bucket: a
// new state is the same. Called with r.mu held.
func (r *Refusals) forgetIdle(now time.Time) {
	for name, st := range r.tokens {
		st.refill(now, r.lim)
		if st.n == 0 && st.allowance >= float64(r.lim.Burst) {
			delete(r.tokens, name)
		}
	}
}

func (r *Refusals) write(ctx context.Context, rec Record) {
	if _, err := r.log.Append(ctx, rec); err != nil {
		r.lg.Error("record suppressed token refusals", "token", rec.Token, "suppressed", rec.Suppressed, "from", rec.WindowStart, "to", rec.WindowEnd, "err", err)
	}
}

func (st *refusalState) refill(now time.Time, lim RefusalLimits) {
	if d := now.Sub(st.at); d > 0 {
		st.allowance = math.Min(float64(lim.Burst), st.allowance+d.Minutes()*lim.PerMinute)
		st.at = now
	}
}

func (st *refusalState) add(rec Record, now time.Time) {
	if st.n == 0 {
		st.first = now
		st.reasons = map[string]int{}
		st.clients = map[string]bool{}
		st.client, st.pkg, st.action = rec.Client, rec.Package, rec.Action
	}
	st.n++
	st.last = now
	reason := strings.Join(rec.Reasons, "; ")
	if _, ok := st.reasons[reason]; ok || len(st.reasons) < maxSummaryReasons {
		st.reasons[reason]++
	} else {
		st.otherReason++
	}
	if !st.clients[rec.Client] {
		if len(st.clients) < maxSummaryClients {
			st.clients[rec.Client] = true
		} else {
			st.moreClients = true
		}
	}
	if st.client != rec.Client {
		st.client = ""
	}
	if st.pkg != rec.Package {
		st.pkg = ""
	}
	if st.action != rec.Action {
		st.action = ""
	}
}

// summary returns the record of the open window and closes it.
func (st *refusalState) summary(name string, now time.Time) *Record {
	rec := &Record{Event: TokenRefusalsSuppressed, Time: now.UTC(), Token: name, Client: st.client, Package: st.pkg, Action: st.action,
		Suppressed: st.n, WindowStart: st.first.UTC(), WindowEnd: st.last.UTC()}
	reasons := slices.Collect(maps.Keys(st.reasons))
	sort.Slice(reasons, func(i, j int) bool {
		a, b := reasons[i], reasons[j]
		if st.reasons[a] != st.reasons[b] {
			return st.reasons[a] > st.reasons[b]
		}
		return a < b
	})
	for _, reason := range reasons {
		rec.Reasons = append(rec.Reasons, fmt.Sprintf("%d× %s", st.reasons[reason], reason))
	}
	if st.otherReason > 0 {
		rec.Reasons = append(rec.Reasons, fmt.Sprintf("%d× other reasons", st.otherReason))
	}
	if len(st.clients) > 1 {
		clients := slices.Sorted(maps.Keys(st.clients))
		plus, more := "", ""
		if st.moreClients {
			plus = "+"
		}
		if len(clients) > 10 {
			clients, more = clients[:10], " and more"
		}
		rec.Reasons = append(rec.Reasons, fmt.Sprintf("from %d%s client addresses: %s%s", len(st.clients), plus, strings.Join(clients, ", "), more))
	}
	*st = refusalState{allowance: st.allowance, at: st.at}
	return rec
}
