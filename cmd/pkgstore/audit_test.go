package main

import (
	"strings"
	"testing"
	"time"

	"pkgstore/internal/govern/audit"
)

// TestAuditTableSummary: a token_refusals_suppressed record says how many
// refusals it stands for, when, and why; other records read as before.
func TestAuditTableSummary(t *testing.T) {
	at := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	var b strings.Builder
	writeAuditTable(&b, []audit.Record{
		{Event: audit.TokenRefused, Time: at, Token: "ci-old", Client: "10.0.0.1", Action: "publish", Reasons: []string{`token "ci-old" expired at 2026-12-01T00:00:00Z`}},
		{Event: audit.TokenRefusalsSuppressed, Time: at.Add(time.Minute), Token: "ci-old", Client: "10.0.0.1", Action: "publish", Suppressed: 1990,
			WindowStart: at, WindowEnd: at.Add(2 * time.Second), Reasons: []string{`1990× token "ci-old" expired at 2026-12-01T00:00:00Z`}},
	})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("table:\n%s", b.String())
	}
	if !strings.HasSuffix(lines[1], `publish: token "ci-old" expired at 2026-12-01T00:00:00Z`) {
		t.Errorf("token_refused line %q", lines[1])
	}
	if want := `1990 refusals from 2026-12-06T09:00:00Z to 2026-12-06T09:00:02Z: publish: 1990× token "ci-old" expired at 2026-12-01T00:00:00Z`; !strings.Contains(lines[2], "token_refusals_suppressed") || !strings.HasSuffix(lines[2], want) {
		t.Errorf("summary line %q, want it to end with %q", lines[2], want)
	}
	if _, err := audit.ParseEvent("token_refusals_suppressed"); err != nil {
		t.Error(err)
	}
}
