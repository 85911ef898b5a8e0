package tokens

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Store is the live token set of a server: the tokens file (reloaded when
// it changes or on SIGHUP) plus the --publish-token secrets.
type Store struct {
	path   string
	static *Set
	log    *slog.Logger
	now    func() time.Time

	// OnRefused, if set, is told of every refused request (audit): the
	// token's name ("" when the secret matched none), what it tried and why
	// it was refused. Never the secret.
	OnRefused func(r *http.Request, name string, scope Scope, pkg string, err error)

	set  atomic.Pointer[Set]
	mu   sync.Mutex // one reload at a time
	last []byte     // file contents of the loaded set
}

// DefaultPollInterval is how often Run looks at the tokens file.
const DefaultPollInterval = 2 * time.Second

// settle is how long a changed tokens file must stay the same before it is
// taken.
const settle = 100 * time.Millisecond

// NewStore loads the tokens file at path (none when empty) and adds the
// static --publish-token secrets. A file that does not load is an error
// here; later reloads keep the previous set instead.
func NewStore(path string, static []string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{path: path, static: Static(static), log: log, now: time.Now}
	if path == "" {
		s.set.Store(s.static)
		return s, nil
	}
	if _, err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Path returns the tokens file ("" when there is none).
func (s *Store) Path() string { return s.path }

// Len returns the number of tokens in force.
func (s *Store) Len() int { return s.set.Load().Len() }

// Reload reads the tokens file again; changed reports whether its content
// differed. On error the previous set stays in force.
func (s *Store) Reload() (changed bool, err error) {
	if s.path == "" {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	before, err := os.Stat(s.path)
	if err != nil {
		return false, fmt.Errorf("read tokens file: %w", err)
	}
	data, err := os.ReadFile(s.path)
	if err != nil {
		return false, fmt.Errorf("read tokens file: %w", err)
	}
	if s.set.Load() != nil && bytes.Equal(data, s.last) {
		return false, nil
	}
	if s.set.Load() != nil && len(bytes.TrimSpace(data)) == 0 {
		// What a file being rewritten in place looks like between its
		// truncation and its write, however long a settle time.
		return false, errors.New("tokens file is empty (being written?); to revoke every token write \"tokens: []\"")
	}
	if s.set.Load() != nil {
		// The file may be in the middle of being written (truncated, half
		// there: an empty file would revoke every token). Take it only
		// once nobody wrote it for a while and it reads the same twice;
		// otherwise the next poll tries again.
		time.Sleep(settle)
		again, err := os.ReadFile(s.path)
		if err != nil {
			return false, fmt.Errorf("read tokens file: %w", err)
		}
		after, err := os.Stat(s.path)
		if err != nil {
			return false, fmt.Errorf("read tokens file: %w", err)
		}
		if !bytes.Equal(data, again) || !after.ModTime().Equal(before.ModTime()) || after.Size() != before.Size() {
			return false, nil
		}
	}
	set, err := Parse(data)
	if err != nil {
		return false, fmt.Errorf("%s: %w", s.path, err)
	}
	s.set.Store(Merge(set, s.static))
	s.last = data
	return true, nil
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
		s.log.Error("tokens file not reloaded; the previous tokens stay in force", "err", err)
	case changed:
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
