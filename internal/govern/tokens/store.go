package tokens

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Store is the live token set of a server: the tokens file (reloaded when
// it changes or on SIGHUP) plus the --publish-token secrets.
//
// A running store fails closed: when the file is deleted, cannot be read,
// is empty or does not parse (and stays so for the settle time), every
// named token is revoked at that reload, an error is logged (again every
// minute while it lasts), and they stay revoked until a valid file is
// back. The --publish-token secrets, which are not in the file, stay.
type Store struct {
	path   string
	static *Set
	log    *slog.Logger
	now    func() time.Time

	// OnRefused, if set, is told of every refused request (audit): the
	// token's name ("" when the secret matched none), what it tried and why
	// it was refused. Never the secret.
	OnRefused func(r *http.Request, name string, scope Scope, pkg string, err error)

	set     atomic.Pointer[Set]
	state   atomic.Pointer[Health] // for /health?verbose=true
	mu      sync.Mutex             // one reload at a time
	last    []byte                 // file contents of the loaded set
	revoked bool                   // the file failed: only the static tokens are in force

	// Run's own (one goroutine): the failure last logged, and when.
	loggedErr string
	loggedAt  time.Time
}

// DefaultPollInterval is how often Run looks at the tokens file.
const DefaultPollInterval = 2 * time.Second

// settle is how long a changed tokens file must stay the same before it is
// taken.
const settle = 100 * time.Millisecond

// failureLogEvery is how often a tokens file that keeps failing is logged
// again.
const failureLogEvery = time.Minute

// NewStore loads the tokens file at path (none when empty) and adds the
// static --publish-token secrets. A file that does not load is an error
// here; later reloads revoke every named token instead (fail closed).
func NewStore(path string, static []string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{path: path, static: Static(static), log: log, now: time.Now}
	if path == "" {
		s.set.Store(s.static)
		s.state.Store(&Health{PublishTokens: s.static.Len()})
		return s, nil
	}
	if _, err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Health is the state of a store's tokens, as /health?verbose=true shows
// it: whether the tokens file loads, why not, how many tokens are in force.
// Never a secret or a digest (YAML values quoted in errors are elided).
type Health struct {
	// File is true when a tokens file is configured (serve --tokens-file).
	File bool `json:"file"`
	// Loaded is true when the file's last reload succeeded; false while it
	// fails, when every named token is refused (fail closed).
	Loaded bool `json:"loaded"`
	// Error says why the file does not load (YAML values elided).
	Error string `json:"error,omitempty"`
	// NamedTokens are the file's tokens in force (0 while it fails).
	NamedTokens int `json:"named_tokens"`
	// PublishTokens are the --publish-token secrets, which stay in force.
	PublishTokens int `json:"publish_tokens"`
	// Since is when the state last changed (a load, or the first of a run
	// of failures).
	Since *time.Time `json:"since,omitempty"`
}

// Health reports the tokens' state (see Health); safe for concurrent use.
func (s *Store) Health() Health {
	if h := s.state.Load(); h != nil {
		return *h
	}
	return Health{}
}

// quotedValue is how yaml.v3 quotes a document's value in an error: a
// tokens file holds digests, not secrets, but a secret pasted by mistake
// must not reach /health.
var quotedValue = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile("`[^`]*`") })

func (s *Store) setState(err error) {
	now := s.now().UTC()
	h := &Health{File: true, Loaded: err == nil, PublishTokens: s.static.Len(), Since: &now}
	if err != nil {
		h.Error = quotedValue().ReplaceAllString(err.Error(), "`…`")
	} else {
		h.NamedTokens = s.set.Load().Len() - s.static.Len()
	}
	if old := s.state.Load(); old != nil && old.Loaded == h.Loaded && old.Error == h.Error && old.NamedTokens == h.NamedTokens {
		h.Since = old.Since
	}
	s.state.Store(h)
}

// Path returns the tokens file ("" when there is none).
func (s *Store) Path() string { return s.path }

// Len returns the number of tokens in force.
func (s *Store) Len() int { return s.set.Load().Len() }

// Revoked reports whether the tokens file failed at the last reload, so
// that only the --publish-token tokens are in force.
func (s *Store) Revoked() bool { return s.set.Load().revoked }

// Reload reads the tokens file again; changed reports whether the tokens
// in force changed. It fails closed: a file that is missing, unreadable,
// empty or does not parse revokes every named token (the --publish-token
// ones stay) and returns why; the next valid file, even one identical to
// the last, brings them back.
func (s *Store) Reload() (changed bool, err error) {
	if s.path == "" {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	set, data, take, err := s.read()
	if err != nil {
		if s.set.Load() == nil {
			return false, err // at start: a start error
		}
		changed = !s.revoked
		s.set.Store(&Set{tokens: s.static.tokens, revoked: true})
		s.last, s.revoked = nil, true
		err = fmt.Errorf("%w; every named token is revoked until it loads again", err)
		s.setState(err)
		return changed, err
	}
	if !take {
		return false, nil
	}
	s.set.Store(Merge(set, s.static))
	s.last, s.revoked = data, false
	s.setState(nil)
	return true, nil
}

// read reads and parses the tokens file; take is false when it is the
// file in force, or when it is being written (the next poll looks again).
func (s *Store) read() (set *Set, data []byte, take bool, err error) {
	loaded := s.set.Load() != nil
	before, err := os.Stat(s.path)
	if err != nil {
		if loaded && errors.Is(err, fs.ErrNotExist) {
			// An editor may be replacing it right now (the old file
			// renamed away, the new one not there yet): look again.
			time.Sleep(settle)
			if _, again := os.Stat(s.path); again == nil {
				return nil, nil, false, nil
			}
		}
		return nil, nil, false, fmt.Errorf("read tokens file: %w", err)
	}
	data, err = os.ReadFile(s.path)
	if err != nil {
		return nil, nil, false, fmt.Errorf("read tokens file: %w", err)
	}
	if loaded && !s.revoked && bytes.Equal(data, s.last) {
		return nil, nil, false, nil
	}
	if loaded {
		// The file may be in the middle of being written (truncated, half
		// there). Take it only once nobody wrote it for a while and it
		// reads the same twice; otherwise the next poll tries again.
		time.Sleep(settle)
		again, err := os.ReadFile(s.path)
		if err != nil {
			return nil, nil, false, fmt.Errorf("read tokens file: %w", err)
		}
		after, err := os.Stat(s.path)
		if err != nil {
			return nil, nil, false, fmt.Errorf("read tokens file: %w", err)
		}
		if !bytes.Equal(data, again) || !after.ModTime().Equal(before.ModTime()) || after.Size() != before.Size() {
			return nil, nil, false, nil
		}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		// Most likely a rewrite that never finished: to revoke every
		// token on purpose, "tokens: []" says so.
		return nil, nil, false, fmt.Errorf("tokens file %s is empty (write \"tokens: []\" to revoke every named token on purpose)", s.path)
	}
	set, err = Parse(data)
	if err != nil {
		return nil, nil, false, fmt.Errorf("%s: %w", s.path, err)
	}
	return set, data, true, nil
}

// Run reloads the tokens file when its content changes (polled every
// interval) and on SIGHUP, until ctx is done.
func (s *Store) Run(ctx context.Context, interval time.Duration) {
	if s.path == "" {
		return
	}
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			s.reloadLogged("SIGHUP")
		case <-t.C:
			s.reloadLogged("file changed")
		}
	}
}

func (s *Store) reloadLogged(why string) {
	changed, err := s.Reload()
	switch {
	case err != nil:
		// Loud at the revocation, on a new reason and every minute while
		// it lasts; not every poll.
		now := s.now()
		if changed || err.Error() != s.loggedErr || now.Sub(s.loggedAt) >= failureLogEvery {
			s.log.Error("tokens file does not load: every named token is refused until it does (--publish-token tokens stay)",
				"file", s.path, "err", err, "tokens", s.Len())
			s.loggedErr, s.loggedAt = err.Error(), now
		}
	case changed:
		if s.loggedErr != "" {
			s.log.Warn("tokens file loads again: its tokens are back in force", "file", s.path, "why", why, "tokens", s.Len())
			s.loggedErr = ""
			return
		}
		s.log.Info("tokens reloaded", "why", why, "tokens", s.Len())
	}
}

// ClientAddr is the address a request came from, for records (the
// proxy's behind one: X-Forwarded-For is the client's word, not trusted).
func ClientAddr(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// Bearer returns the bearer secret of r ("" when there is none).
func Bearer(r *http.Request) string {
	scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(secret)
}

// Check checks r's bearer token for scope on package pkg ("" when the
// package is not known yet). It returns the token, or ErrDisabled,
// ErrMissing, ErrUnknown or a *Refusal; a Refusal comes with the token
// too, so that callers can say whose request was refused. Refusals are
// reported to OnRefused.
func (s *Store) Check(r *http.Request, scope Scope, pkg string) (*Token, error) {
	t, err := s.set.Load().Authenticate(Bearer(r))
	if err == nil {
		err = t.Allow(scope, pkg, s.now())
	}
	if err != nil && s.OnRefused != nil && !errors.Is(err, ErrDisabled) {
		name := ""
		if t != nil {
			name = t.Name
		}
		s.OnRefused(r, name, scope, pkg, err)
	}
	return t, err
}

// Authorize is Check returning the token's name (publishapi.Authorizer).
func (s *Store) Authorize(r *http.Request, scope Scope, pkg string) (string, error) {
	t, err := s.Check(r, scope, pkg)
	if t == nil {
		return "", err
	}
	return t.Name, err
}
