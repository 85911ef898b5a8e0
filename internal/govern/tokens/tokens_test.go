package tokens

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// entry returns a tokens-file item for secret.
func entry(t *testing.T, name, secret string, scopes []Scope, pkgs []string, exp *time.Time) string {
	t.Helper()
	tok, err := New(name, secret, scopes, pkgs, exp)
	if err != nil {
		t.Fatal(err)
	}
	y, err := tok.YAML()
	if err != nil {
		t.Fatal(err)
	}
	return y
}

func TestAllow(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	file := "tokens:\n" +
		entry(t, "ci-aws", "s-aws", []Scope{ScopePublish}, []string{"aws*"}, &future) +
		entry(t, "cisco", "s-cisco", []Scope{ScopePublish, ScopeYank}, []string{"cisco_*", "cisco"}, nil) +
		entry(t, "old", "s-old", []Scope{ScopePublish}, []string{"*"}, &past) +
		entry(t, "auditor", "s-audit", []Scope{ScopeAudit}, nil, nil) +
		entry(t, "root", "s-root", []Scope{ScopeAdmin}, nil, nil)
	set, err := Parse([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		secret string
		scope  Scope
		pkg    string
		want   string // "" allowed, else a substring of the refusal
	}{
		{"s-aws", ScopePublish, "aws", ""},
		{"s-aws", ScopePublish, "aws_bedrock", ""},
		{"s-aws", ScopePublish, "", ""},
		{"s-aws", ScopePublish, "cisco_asa", `token "ci-aws" may not publish package "cisco_asa": it is limited to packages "aws*"`},
		{"s-aws", ScopeYank, "aws", `token "ci-aws" lacks the "yank" scope`},
		{"s-aws", ScopeAudit, "", `lacks the "audit" scope`},
		{"s-cisco", ScopeYank, "cisco_asa", ""},
		{"s-cisco", ScopePublish, "cisco", ""},
		{"s-cisco", ScopePublish, "ciscoish", `limited to packages "cisco_*", "cisco"`},
		{"s-old", ScopePublish, "aws", `token "old" expired at ` + past.Format(time.RFC3339)},
		{"s-audit", ScopeAudit, "", ""},
		{"s-audit", ScopePublish, "", `lacks the "publish" scope`},
		{"s-root", ScopePublish, "anything", ""},
		{"s-root", ScopeYank, "aws", ""},
		{"s-root", ScopeAudit, "", ""},
		{"wrong", ScopePublish, "aws", ErrUnknown.Error()},
		{"", ScopePublish, "aws", ErrMissing.Error()},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s/%s", tt.secret, tt.scope, tt.pkg), func(t *testing.T) {
			tok, err := set.Authenticate(tt.secret)
			if err == nil {
				err = tok.Allow(tt.scope, tt.pkg, now)
			}
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			// A refusal names at most the token used: never another one.
			if err != nil {
				for _, other := range []string{"ci-aws", "cisco", "old", "auditor", "root"} {
					if tok != nil && other == tok.Name {
						continue
					}
					if strings.Contains(err.Error(), `"`+other+`"`) {
						t.Errorf("refusal %q reveals token %q", err, other)
					}
				}
				if strings.Contains(err.Error(), tt.secret) && tt.secret != "" {
					t.Errorf("refusal %q contains the secret", err)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	good := Digest("x")
	tests := []struct{ name, file, want string }{
		{"bad name", "tokens:\n- {name: 'a b', sha256: " + good + ", scopes: [audit]}\n", "name must match"},
		{"dots", "tokens:\n- {name: 'a..b', sha256: " + good + ", scopes: [audit]}\n", "name must match"},
		{"bad digest", "tokens:\n- {name: a, sha256: abc, scopes: [audit]}\n", "64 hex digits"},
		{"no scopes", "tokens:\n- {name: a, sha256: " + good + "}\n", "no scopes"},
		{"unknown scope", "tokens:\n- {name: a, sha256: " + good + ", scopes: [delete]}\n", `unknown scope "delete"`},
		{"publish without packages", "tokens:\n- {name: a, sha256: " + good + ", scopes: [publish]}\n", "no packages"},
		{"bad pattern", "tokens:\n- {name: a, sha256: " + good + ", scopes: [publish], packages: ['aws[']}\n", `bad package pattern "aws["`},
		{"duplicate", "tokens:\n- {name: a, sha256: " + good + ", scopes: [audit]}\n- {name: a, sha256: " + good + ", scopes: [audit]}\n", `"a" is used twice`},
		{"unknown field", "tokens:\n- {name: a, secret: hunter2, sha256: " + good + ", scopes: [audit]}\n", "field secret not found"},
		{"not yaml", "tokens: [", "tokens file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if set, err := Parse(nil); err != nil || set.Len() != 0 {
		t.Fatalf("empty file: %v, %d tokens", err, set.Len())
	}
}

// TestCreateRoundTrip: the entry token create prints, once in a file,
// admits the printed secret and nothing else.
func TestCreateRoundTrip(t *testing.T) {
	exp, err := ParseExpiry("90d", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	secret := NewSecret()
	if !strings.HasPrefix(secret, SecretPrefix) || len(secret) < 40 || secret == NewSecret() {
		t.Fatalf("secret %q is not a fresh random secret", secret)
	}
	y := entry(t, "ci", secret, []Scope{ScopePublish}, []string{"aws*"}, &exp)
	if strings.Contains(y, secret) {
		t.Fatal("the YAML entry holds the secret in clear")
	}
	set, err := Parse([]byte("tokens:\n" + y))
	if err != nil {
		t.Fatalf("printed entry does not parse: %v\n%s", err, y)
	}
	tok, err := set.Authenticate(secret)
	if err != nil || tok.Name != "ci" || tok.Expires == nil || !tok.Expires.Equal(exp) {
		t.Fatalf("authenticate: %+v, %v", tok, err)
	}
	if _, err := set.Authenticate(secret + "x"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("a wrong secret: %v", err)
	}
	for _, tt := range []struct {
		in  string
		ok  bool
		off time.Duration
	}{{"90d", true, 90 * 24 * time.Hour}, {"36h", true, 36 * time.Hour}, {"2999-01-31", true, 0}, {"2001-01-01", false, 0}, {"soon", false, 0}, {"0d", false, 0}} {
		now := time.Now()
		got, err := ParseExpiry(tt.in, now)
		if (err == nil) != tt.ok {
			t.Errorf("ParseExpiry(%q): %v", tt.in, err)
		}
		if tt.off > 0 && got.Sub(now).Round(time.Minute) != tt.off {
			t.Errorf("ParseExpiry(%q) = %s, want now+%s", tt.in, got, tt.off)
		}
	}
}

func TestStatic(t *testing.T) {
	s := Static([]string{"one", "", "two"})
	for secret, name := range map[string]string{"one": "publish-token-1", "two": "publish-token-2"} {
		tok, err := s.Authenticate(secret)
		if err != nil || tok.Name != name || tok.Allow(ScopePublish, "anything", time.Now()) != nil {
			t.Errorf("%s: %+v %v", secret, tok, err)
		}
		if tok.Allow(ScopeYank, "anything", time.Now()) == nil {
			t.Errorf("an unnamed publish token may yank")
		}
	}
	if tok, _ := Static([]string{"only"}).Authenticate("only"); tok == nil || tok.Name != "publish-token" {
		t.Fatalf("single static token: %+v", tok)
	}
	if _, err := Static(nil).Authenticate("x"); !errors.Is(err, ErrDisabled) {
		t.Fatalf("no tokens: %v", err)
	}
}

// TestStoreReload: the file is picked up when it changes (polled) and on
// SIGHUP; a broken file revokes every named token until it is fixed.
func TestStoreReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens.yml")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("tokens:\n" + entry(t, "first", "sek-first-9f3a", []Scope{ScopePublish}, []string{"aws*"}, nil))
	s, err := NewStore(path, []string{"sek-legacy-0c11"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var refused []string
	s.OnRefused = func(_ *http.Request, name string, scope Scope, pkg string, err error) {
		mu.Lock()
		refused = append(refused, fmt.Sprintf("%s %s %s: %v", name, scope, pkg, err))
		mu.Unlock()
	}
	allowed := func(secret, pkg string) error {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("Authorization", "Bearer "+secret)
		_, err := s.Check(r, ScopePublish, pkg)
		return err
	}
	if err := allowed("sek-first-9f3a", "aws"); err != nil {
		t.Fatal(err)
	}
	if err := allowed("sek-legacy-0c11", "cisco"); err != nil {
		t.Fatalf("--publish-token next to a tokens file: %v", err)
	}
	// run starts s.Run; the returned function stops it and waits.
	run := func(interval time.Duration) func() {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx, interval); close(done) }()
		return func() { cancel(); <-done }
	}
	stop := run(20 * time.Millisecond)

	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after 5s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// Changed content: s1 now covers cisco too, s2 appears.
	write("tokens:\n" + entry(t, "first", "sek-first-9f3a", []Scope{ScopePublish}, []string{"aws*", "cisco*"}, nil) + entry(t, "second", "sek-second-41bc", []Scope{ScopeAudit}, nil, nil))
	eventually("reload on change", func() bool { return allowed("sek-first-9f3a", "cisco") == nil })
	// A broken file fails closed: every named token is revoked, the
	// --publish-token stays; the same file as before brings them back.
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	write("tokens: [")
	eventually("a broken file revokes", func() bool { return errors.Is(allowed("sek-first-9f3a", "cisco"), ErrUnknown) })
	if err := allowed("sek-legacy-0c11", "cisco"); err != nil {
		t.Fatalf("--publish-token with a broken tokens file: %v", err)
	}
	write(string(good))
	eventually("the same file again", func() bool { return allowed("sek-first-9f3a", "cisco") == nil })
	// Revoked: the file no longer lists s1.
	write("tokens:\n" + entry(t, "second", "sek-second-41bc", []Scope{ScopeAudit}, nil, nil))
	eventually("revocation", func() bool { return errors.Is(allowed("sek-first-9f3a", "aws"), ErrUnknown) })

	// SIGHUP: with polling too slow to matter, the signal alone reloads.
	stop()
	stop = run(time.Hour)
	defer stop()
	time.Sleep(50 * time.Millisecond) // Run registers for SIGHUP first
	write("tokens:\n" + entry(t, "third", "sek-third-77de", []Scope{ScopePublish}, []string{"*"}, nil))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually("reload on SIGHUP", func() bool { return allowed("sek-third-77de", "aws") == nil })

	mu.Lock()
	defer mu.Unlock()
	if len(refused) == 0 {
		t.Fatal("OnRefused never called")
	}
	for _, r := range refused {
		for _, secret := range []string{"sek-first-9f3a", "sek-second-41bc", "sek-third-77de", "sek-legacy-0c11"} {
			if strings.Contains(r, secret) || strings.Contains(r, "Bearer") {
				t.Errorf("refusal report %q contains a secret", r)
			}
		}
	}
}

// TestStoreNeverTakesHalfWrittenFile rewrites the tokens file in place
// (truncate, then write, as `>` in a shell does) while the store polls it
// every millisecond: the token must never stop working.
func TestStoreNeverTakesHalfWrittenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.yml")
	body := "tokens:\n" + entry(t, "steady", "sek-steady-5e5e", []Scope{ScopePublish}, []string{"*"}, nil)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := NewStore(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("Authorization", "Bearer sek-steady-5e5e")
	for i := range 300 {
		// A comment makes every version differ, so each is reloaded.
		if err := os.WriteFile(path, []byte(fmt.Sprintf("# edit %d\n%s", i, body)), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Check(r, ScopePublish, "aws"); err != nil {
			t.Fatalf("after rewrite %d: %v", i, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestStoreEmptyFile: an empty file (a rewrite that never finished) fails
// closed, with an error that says how to revoke on purpose; "tokens: []"
// revokes every token without one; a valid file brings them back.
func TestStoreEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.yml")
	if err := os.WriteFile(path, []byte("tokens:\n"+entry(t, "one", "sek-one-1234", []Scope{ScopeAudit}, nil, nil)), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := NewStore(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		body   string
		tokens int
		err    bool
	}{{"", 0, true}, {"tokens:\n" + entry(t, "one", "sek-one-1234", []Scope{ScopeAudit}, nil, nil), 1, false}, {"  \n", 0, true}, {"tokens: []\n", 0, false}} {
		if err := os.WriteFile(path, []byte(tt.body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Reload(); (err != nil) != tt.err || s.Len() != tt.tokens {
			t.Errorf("file %q: %v, %d tokens; want error %v, %d tokens", tt.body, err, s.Len(), tt.err, tt.tokens)
		}
	}
}

// TestStoreFailsClosed: a tokens file deleted, unreadable or unparsable
// under a running store revokes every named token at the next reload and
// keeps them revoked at every reload after, until a valid file is back
// (the very same content as before included); the --publish-token secrets
// stay valid throughout, and a revoked set refuses a secret as unknown, not
// as a server without tokens.
func TestStoreFailsClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.yml")
	good := "tokens:\n" + entry(t, "named", "sek-named-2b2b", []Scope{ScopePublish}, []string{"*"}, nil)
	restore := func() {
		t.Helper()
		os.RemoveAll(path)
		if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	restore()
	check := func(s *Store, secret string) error {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("Authorization", "Bearer "+secret)
		_, err := s.Check(r, ScopePublish, "aws")
		return err
	}
	for _, static := range [][]string{nil, {"sek-static-3c3c"}} {
		s, err := NewStore(path, static, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name   string
			break_ func() error
		}{
			{"deleted", func() error { return os.Remove(path) }},
			{"a folder", func() error { os.Remove(path); return os.Mkdir(path, 0o700) }},
			{"bad YAML", func() error { return os.WriteFile(path, []byte("tokens: [\n"), 0o600) }},
			{"bad entry", func() error { return os.WriteFile(path, []byte("tokens:\n  - name: x\n"), 0o600) }},
		} {
			if err := tc.break_(); err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				changed, err := s.Reload()
				if err == nil || changed != (i == 0) || !s.Revoked() {
					t.Errorf("%s, reload %d: changed %v, revoked %v, err %v; want changed %v, revoked, an error", tc.name, i, changed, s.Revoked(), err, i == 0)
				}
				if err := check(s, "sek-named-2b2b"); !errors.Is(err, ErrUnknown) {
					t.Errorf("%s, reload %d: named token: %v, want ErrUnknown", tc.name, i, err)
				}
				if len(static) > 0 {
					if err := check(s, static[0]); err != nil {
						t.Errorf("%s: --publish-token: %v", tc.name, err)
					}
				}
			}
			restore()
			if changed, err := s.Reload(); err != nil || !changed || s.Revoked() {
				t.Errorf("%s, restored: changed %v, revoked %v, err %v", tc.name, changed, s.Revoked(), err)
			}
			if err := check(s, "sek-named-2b2b"); err != nil {
				t.Errorf("%s, restored: named token: %v", tc.name, err)
			}
		}
	}
}
