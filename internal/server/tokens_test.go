package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"pkgstore/internal/govern/audit"
	"pkgstore/internal/server"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/servertest"
)

// TestUnknownTokensBoundAuditRecords: refusals of made-up secrets are
// recorded, but a loop of them cannot write an audit object per request.
func TestUnknownTokensBoundAuditRecords(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Memory: true})
	const sent = 40
	for i := range sent {
		req, err := http.NewRequest(http.MethodGet, s.URL+"/api/v1/audit", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", fmt.Sprintf("Bearer made-up-%d", i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
			t.Fatalf("request %d: status %d, want a refusal", i, resp.StatusCode)
		}
	}
	recs, err := s.Server.Audit.All(context.Background(), audit.Query{Event: audit.TokenRefused})
	if err != nil {
		t.Fatal(err)
	}
	// The per-client burst is 10; a slow run may refill one more.
	if len(recs) == 0 || len(recs) > 11 {
		t.Fatalf("%d token_refused records for %d made-up secrets, want 1..11", len(recs), sent)
	}
}

// TestNamedTokenRefusalsBoundAuditRecords is the attack of issue 21 item 3:
// a listed token that is expired, or used beyond its scope, in a loop. Each
// refusal used to be a permanent, fsynced audit record; 2,000 of each must
// leave at most 200 records, and what was not recorded one by one must be
// counted in summary records, flushed when the store shuts down.
func TestNamedTokenRefusalsBoundAuditRecords(t *testing.T) {
	tf := writeTokens(t)
	s := servertest.Start(t, servertest.Options{Configure: func(c *server.Config) { c.TokensFile = tf }})
	const sent = 2000
	attacks := []struct {
		token, secret, path, want string
	}{
		{"ci-old", secretExpired, "/api/v1/audit", `token \"ci-old\" expired at`},
		{"aws-yanker", secretYank, "/api/v1/audit?package=cisco_asa", `token \"aws-yanker\" may not read the audit records of package \"cisco_asa\"`},
	}
	start := time.Now()
	for _, a := range attacks {
		var first []byte
		var mu sync.Mutex
		var g errgroup.Group
		g.SetLimit(8)
		for i := range sent {
			g.Go(func() error {
				req, err := http.NewRequest(http.MethodGet, s.URL+a.path, nil)
				if err != nil {
					return err
				}
				req.Header.Set("Authorization", "Bearer "+a.secret)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return err
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					return err
				}
				if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(string(body), a.want) {
					return fmt.Errorf("%s request %d: %d %s %s, want 403 JSON %s", a.token, i, resp.StatusCode, resp.Header.Get("Content-Type"), body, a.want)
				}
				mu.Lock()
				defer mu.Unlock()
				if first == nil {
					first = body
				} else if !bytes.Equal(body, first) {
					return fmt.Errorf("%s request %d answered %s, the first %s", a.token, i, body, first)
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d refused requests in %v", len(attacks)*sent, time.Since(start))
	// A graceful shutdown writes the summaries of the windows still open.
	s.Stop()
	b, err := storage.Open(context.Background(), storage.Config{DataDir: s.Data})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	recs, err := audit.New(b.Internal).All(context.Background(), audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d audit records for %d refusals", len(recs), len(attacks)*sent)
	if len(recs) > 200 {
		t.Fatalf("%d audit records for %d refusals of listed tokens, want at most 200", len(recs), len(attacks)*sent)
	}
	// Every refusal is in a record: one by one or counted in a summary.
	for _, a := range attacks {
		one, counted, summaries := 0, 0, 0
		for _, r := range recs {
			if r.Token != a.token {
				continue
			}
			switch r.Event {
			case audit.TokenRefused:
				one++
			case audit.TokenRefusalsSuppressed:
				summaries++
				counted += r.Suppressed
				want := strings.ReplaceAll(a.want, `\"`, `"`)
				if r.WindowStart.IsZero() || r.WindowEnd.Before(r.WindowStart) || len(r.Reasons) == 0 || !strings.Contains(r.Reasons[0], want) || r.Action != "audit" {
					t.Errorf("summary %+v, want a window and the reason %s", r, want)
				}
			default:
				t.Errorf("unexpected record %+v", r)
			}
		}
		t.Logf("%s: %d token_refused records, %d summaries counting %d", a.token, one, summaries, counted)
		if one+counted != sent || summaries == 0 {
			t.Errorf("%s: %d token_refused records + %d counted in %d summaries, want %d in all", a.token, one, counted, summaries, sent)
		}
	}
}
