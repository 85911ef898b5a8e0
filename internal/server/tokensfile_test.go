package server_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/ziptest"
)

// TestTokensFileFailsClosed: the tokens file of a running store is deleted,
// replaced by broken YAML, by an empty file, by something that cannot be
// read: at the next reload every named token is refused, an error is
// logged, and they stay refused until a valid file is back (even one with
// the very same content as before). The --publish-token secret, which is
// not in the file, keeps working throughout.
func TestTokensFileFailsClosed(t *testing.T) {
	s, logs := governedStore(t)
	path := s.Server.Tokens.Path()
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	audit := func() int {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, s.URL+"/api/v1/audit", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+secretAudit)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// eventually waits for the auditor's token to answer want, through
	// the store's own reloads (polled every 2 s).
	eventually := func(what string, want int) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			got := audit()
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the auditor's token answers %d, want %d\ntokens logs:\n%s", what, got, want, tokenLogs(logs.String()))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	published := 0
	staticWorks := func(what string) {
		t.Helper()
		published++
		v := "1.0." + string(rune('0'+published))
		zip := ziptest.Package(t, "static", v)
		c, err := client.New(s.URL, servertest.Token)
		if err != nil {
			t.Fatal(err)
		}
		sub, err := c.Publish(context.Background(), "static-"+v+".zip", strings.NewReader(string(zip)), s.Key.Sign(t, zip), client.Options{Legacy: true})
		if err != nil || sub.Status != api.StatusPublished {
			t.Fatalf("%s: --publish-token publish: %+v, %v", what, sub, err)
		}
	}
	restore := func() {
		t.Helper()
		os.RemoveAll(path)
		if err := os.WriteFile(path, good, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	eventually("at start", http.StatusOK)

	breakings := []struct {
		name string
		do   func() error
	}{
		{"deleted", func() error { return os.Remove(path) }},
		{"broken YAML", func() error { return os.WriteFile(path, []byte("tokens: [\n"), 0o600) }},
		{"empty", func() error { return os.WriteFile(path, nil, 0o600) }},
		{"unreadable (a folder)", func() error {
			if err := os.Remove(path); err != nil {
				return err
			}
			return os.Mkdir(path, 0o700)
		}},
	}
	for _, b := range breakings {
		before := strings.Count(logs.String(), "level=ERROR msg=\"tokens file does not load")
		if err := b.do(); err != nil {
			t.Fatal(err)
		}
		eventually(b.name, http.StatusForbidden)
		if after := strings.Count(logs.String(), "level=ERROR msg=\"tokens file does not load"); after <= before {
			t.Errorf("%s: no error logged\n%s", b.name, tokenLogs(logs.String()))
		}
		staticWorks(b.name)
		// Still refused after further reloads (once: each costs a poll).
		if b.name != "deleted" {
			restore()
			eventually(b.name+", then restored", http.StatusOK)
			continue
		}
		time.Sleep(2500 * time.Millisecond)
		if got := audit(); got != http.StatusForbidden {
			t.Fatalf("%s: the auditor's token answers %d a reload later, want 403", b.name, got)
		}
		restore()
		eventually(b.name+", then restored", http.StatusOK)
	}
}

// tokenLogs are the lines of a store's log about its tokens file.
func tokenLogs(logs string) string {
	var out []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "tokens") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
