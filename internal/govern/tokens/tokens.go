// Package tokens holds the named, scoped bearer tokens of a store: who may
// publish, yank or read the audit log, and for which packages. Tokens are
// kept as SHA-256 digests of their secrets (a tokens file holds no secret),
// compared in constant time.
package tokens

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// Scope is one right a token grants.
type Scope string

// The scopes. Admin implies every other scope.
const (
	ScopePublish Scope = "publish"
	ScopeYank    Scope = "yank"
	ScopeAudit   Scope = "audit"
	ScopeAdmin   Scope = "admin"
)

var knownScopes = map[Scope]bool{ScopePublish: true, ScopeYank: true, ScopeAudit: true, ScopeAdmin: true}

// Token is one entry of a tokens file.
type Token struct {
	// Name identifies the token in audit records, logs and refusals (never
	// the secret).
	Name string `yaml:"name"`
	// SHA256 is the hex SHA-256 of the secret.
	SHA256 string  `yaml:"sha256"`
	Scopes []Scope `yaml:"scopes"`
	// Packages are package-name patterns (path.Match syntax: aws*,
	// cisco_*, *) the token may publish and yank, and whose audit records
	// it may read.
	Packages []string `yaml:"packages,omitempty"`
	// Expires, if set, is when the token stops working.
	Expires *time.Time `yaml:"expires,omitempty"`

	digest [32]byte
}

// File is the YAML of --tokens-file.
type File struct {
	Tokens []Token `yaml:"tokens"`
}

// nameRe restricts token names to characters that are safe in object keys,
// logs and URLs.
// Compiled on first use (a serve without tokens never checks a name).
var nameRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`) })

// ValidName reports whether name can name a token ("..", which object keys
// refuse, excluded).
func ValidName(name string) bool { return nameRe().MatchString(name) && !strings.Contains(name, "..") }

// Errors callers branch on.
var (
	// ErrMissing: the request carried no bearer token.
	ErrMissing = errors.New("missing bearer token: send Authorization: Bearer <token>")
	// ErrUnknown: the secret matches no token.
	ErrUnknown = errors.New("the bearer token is not valid")
	// ErrDisabled: the store has no tokens at all.
	ErrDisabled = errors.New("this server has no tokens: start it with --tokens-file FILE or --publish-token TOKEN (or PKGSTORE_PUBLISH_TOKEN)")
)

// Refusal says why a known token may not do something. Its message names
// only this token, the scope and the package, never other tokens.
type Refusal struct {
	Token   string
	Scope   Scope
	Package string
	Expired *time.Time
	// Patterns are the token's own package patterns (for "not allowed for
	// package X" refusals).
	Patterns []string
}

func (r *Refusal) Error() string {
	switch {
	case r.Expired != nil:
		return fmt.Sprintf("token %q expired at %s", r.Token, r.Expired.UTC().Format(time.RFC3339))
	case r.Package != "":
		return fmt.Sprintf("token %q may not %s package %q: it is limited to packages %s", r.Token, verb(r.Scope), r.Package, strings.Join(quoteAll(r.Patterns), ", "))
	default:
		return fmt.Sprintf("token %q lacks the %q scope", r.Token, r.Scope)
	}
}

func verb(s Scope) string {
	switch s {
	case ScopeAudit:
		return "read the audit records of"
	case ScopePublish, ScopeYank:
		return string(s)
	}
	return "use " + string(s) + " on"
}

func quoteAll(ss []string) []string {
	if len(ss) == 0 {
		return []string{"(none)"}
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// Has reports whether t grants scope (admin grants all).
func (t *Token) Has(scope Scope) bool {
	for _, s := range t.Scopes {
		if s == scope || s == ScopeAdmin {
			return true
		}
	}
	return false
}

// Matches reports whether t covers package name. An admin token without
// patterns covers every package.
func (t *Token) Matches(name string) bool {
	if len(t.Packages) == 0 && t.Has(ScopeAdmin) {
		return true
	}
	for _, p := range t.Packages {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// Allow checks that t may use scope on package pkg ("" when the package is
// not known yet) at time now.
func (t *Token) Allow(scope Scope, pkg string, now time.Time) error {
	if t.Expires != nil && !now.Before(*t.Expires) {
		return &Refusal{Token: t.Name, Scope: scope, Expired: t.Expires}
	}
	if !t.Has(scope) {
		return &Refusal{Token: t.Name, Scope: scope}
	}
	if pkg != "" && !t.Matches(pkg) {
		return &Refusal{Token: t.Name, Scope: scope, Package: pkg, Patterns: t.Packages}
	}
	return nil
}

// Set is an immutable collection of tokens.
type Set struct {
	tokens []*Token
	// revoked: the tokens file failed, its tokens are revoked. A secret
	// is then refused as unknown, even with no token left at all: the
	// server is not one without tokens (ErrDisabled).
	revoked bool
}

// Len returns the number of tokens.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.tokens)
}

// Parse reads a tokens file. Every problem is reported with the token's
// position and name.
func Parse(data []byte) (*Set, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) { // an empty file holds no tokens
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	s := &Set{}
	seen := map[string]bool{}
	var errs []error
	for i := range f.Tokens {
		t := f.Tokens[i]
		if err := t.check(); err != nil {
			errs = append(errs, fmt.Errorf("tokens file: token %d (%q): %w", i+1, t.Name, err))
			continue
		}
		if seen[t.Name] {
			errs = append(errs, fmt.Errorf("tokens file: token %d: the name %q is used twice", i+1, t.Name))
			continue
		}
		seen[t.Name] = true
		s.tokens = append(s.tokens, &t)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

func (t *Token) check() error {
	if !ValidName(t.Name) {
		return fmt.Errorf("name must match %s, without \"..\"", nameRe())
	}
	raw, err := hex.DecodeString(t.SHA256)
	if err != nil || len(raw) != sha256.Size {
		return errors.New("sha256 must be the 64 hex digits of the secret's SHA-256 (pkgstore token create prints it)")
	}
	copy(t.digest[:], raw)
	if len(t.Scopes) == 0 {
		return errors.New("no scopes: give at least one of publish, yank, audit, admin")
	}
	for _, sc := range t.Scopes {
		if !knownScopes[sc] {
			return fmt.Errorf("unknown scope %q (expected publish, yank, audit or admin)", sc)
		}
	}
	for _, p := range t.Packages {
		if _, err := path.Match(p, ""); err != nil || p == "" || strings.Contains(p, "/") {
			return fmt.Errorf("bad package pattern %q: use names with * ? [a-z] wildcards, such as aws* or cisco_*", p)
		}
	}
	if len(t.Packages) == 0 && !t.Has(ScopeAdmin) && (t.Has(ScopePublish) || t.Has(ScopeYank)) {
		return errors.New(`no packages: list the package-name patterns it may publish or yank ("*" for all)`)
	}
	return nil
}

// Static returns the set of the unnamed all-packages publish tokens given
// with --publish-token: named "publish-token" (or publish-token-N when
// there are several), so audit records and rate limits can tell them apart.
func Static(secrets []string) *Set {
	s := &Set{}
	var nonEmpty []string
	for _, sec := range secrets {
		if sec != "" {
			nonEmpty = append(nonEmpty, sec)
		}
	}
	for i, sec := range nonEmpty {
		name := "publish-token"
		if len(nonEmpty) > 1 {
			name = fmt.Sprintf("publish-token-%d", i+1)
		}
		s.tokens = append(s.tokens, &Token{Name: name, Scopes: []Scope{ScopePublish}, Packages: []string{"*"}, digest: sha256.Sum256([]byte(sec))})
	}
	return s
}

// Merge returns a set holding the tokens of both (a's first).
func Merge(a, b *Set) *Set {
	out := &Set{}
	for _, s := range []*Set{a, b} {
		if s != nil {
			out.tokens = append(out.tokens, s.tokens...)
		}
	}
	return out
}

// Authenticate returns the token whose secret is secret. Every token is
// compared, in constant time, whatever matches: timing reveals neither the
// secret nor which token matched.
func (s *Set) Authenticate(secret string) (*Token, error) {
	if s.Len() == 0 && !s.revoked {
		return nil, ErrDisabled
	}
	if secret == "" {
		return nil, ErrMissing
	}
	got := sha256.Sum256([]byte(secret))
	var found *Token
	for _, t := range s.tokens {
		if subtle.ConstantTimeCompare(got[:], t.digest[:]) == 1 {
			found = t
		}
	}
	if found == nil {
		return nil, ErrUnknown
	}
	return found, nil
}

// Digest returns the hex SHA-256 of a secret, as a tokens file holds it.
func Digest(secret string) string {
	d := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(d[:])
}
