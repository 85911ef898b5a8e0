package server_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"pkgstore/internal/govern/audit"
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
