package tokens

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// SecretPrefix starts every generated secret, so that secret scanners and
// people recognise one.
const SecretPrefix = "pkgstore_"

// NewSecret returns a new random secret (256 bits).
func NewSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// New returns a token entry for secret, checked as a tokens file would be.
func New(name, secret string, scopes []Scope, packages []string, expires *time.Time) (*Token, error) {
	t := &Token{Name: name, SHA256: Digest(secret), Scopes: scopes, Packages: packages, Expires: expires}
	if err := t.check(); err != nil {
		return nil, fmt.Errorf("token %q: %w", name, err)
	}
	return t, nil
}

// YAML returns t as an item of a tokens file's list, indented to go
// under "tokens:".
func (t *Token) YAML() (string, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode([]*Token{t}); err != nil {
		return "", err
	}
	var out strings.Builder
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if line != "" {
			out.WriteString("  " + line)
		}
	}
	return out.String(), nil
}

// ParseExpiry reads an expiry: a number of days ("90d"), a Go duration
// ("36h") or a date or time (2027-01-31, RFC 3339), relative to now.
func ParseExpiry(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n > 0 {
			return now.Add(time.Duration(n) * 24 * time.Hour).UTC().Truncate(time.Second), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d).UTC().Truncate(time.Second), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			if !t.After(now) {
				return time.Time{}, fmt.Errorf("expiry %q is in the past", s)
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("expiry %q: expected days (90d), a duration (36h) or a date (2027-01-31)", s)
}
