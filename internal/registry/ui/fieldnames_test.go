package ui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/pkg/markdown"
)

func TestExportedFields(t *testing.T) {
	for _, tt := range []struct {
		name, md, want string
	}{
		{"exported fields table",
			"**Exported fields**\n\n| Field | Description | Type |\n|---|---|---|\n| @timestamp | Event timestamp. | date |\n| Nginx.Access.Remote_IP | Client `address`. | ip |\n",
			"@timestamp\x00nginx.access.remote_ip"},
		{"code in the cell", "| Field | Type |\n|---|---|\n| `host.name` | keyword |\n", "host.name"},
		{"other tables are not fields", "| Name | Type |\n|---|---|\n| secret.thing | keyword |\n", ""},
		{"a field column that is not first", "| Type | Field |\n|---|---|\n| keyword | x.y |\n", ""},
		{"two tables", "| Field | T |\n|---|---|\n| a.b | k |\n\ntext\n\n| Other | T |\n|---|---|\n| no.no | k |\n\n| Field | T |\n|---|---|\n| c.d | k |\n", "a.b\x00c.d"},
		{"empty cells skipped", "| Field | T |\n|---|---|\n|  | k |\n| e.f | k |\n", "e.f"},
		{"no tables", "# Title\n\nText with Field in it.\n", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := markdown.Render(context.Background(), []byte(tt.md), "docs/README.md", markdown.NewFiles("/package/p/1.0.0/", nil), markdown.DefaultBudget)
			if err != nil {
				t.Fatal(err)
			}
			if got := exportedFields(r.HTML); got != tt.want {
				t.Errorf("exportedFields = %q, want %q\nHTML: %s", got, tt.want, r.HTML)
			}
		})
	}
	// The HTML is the renderer's; an attacker's raw HTML table is sanitised
	// before this runs, and whatever remains is only searched, never shown.
	if got := exportedFields(strings.Repeat("<table><tr><th>Field</th></tr><tr><td>x</td></tr></table>", 3)); got != "x\x00x\x00x" {
		t.Errorf("repeated tables: %q", got)
	}
}

func TestFieldMatch(t *testing.T) {
	names := "@timestamp\x00apache.status.uptime.server_uptime\x00winlog.event_data.lastbootgood\x00other.quux_latency_ms"
	for needle, want := range map[string]bool{
		"apache":                true,
		"uptime":                true,
		"server_uptime":         true,
		"status.uptime.server_": true,
		"timestamp":             true, // after '@'
		"quux_lat":              true,
		"latency":               true, // after '_'
		"good":                  false,
		"ptime":                 false,
		"bootgood":              false,
		"nothing":               false,
	} {
		if got := fieldMatch(names, needle); got != want {
			t.Errorf("fieldMatch(%q) = %v, want %v", needle, got, want)
		}
	}
}

// TestExportedFieldsBounded: a README whose tables list half a MiB of
// field names keeps maxFieldBytes of them for searching, the first ones.
func TestExportedFieldsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("| Field | Type |\n|---|---|\n")
	for i := 0; b.Len() < 512<<10; i++ {
		fmt.Fprintf(&b, "| hostile.field_%07d | keyword |\n", i)
	}
	r, err := markdown.Render(context.Background(), []byte(b.String()), "docs/README.md", markdown.NewFiles("/package/p/1.0.0/", nil), markdown.Budget{CPU: time.Minute, Output: 64 << 20})
	if err != nil || r.HTML == "" {
		t.Fatalf("render: %v (%s)", err, r.Reason)
	}
	got := exportedFields(r.HTML)
	if len(got) > maxFieldBytes || len(got) < maxFieldBytes/2 {
		t.Fatalf("kept %d bytes of names, want at most %d (and most of it)", len(got), maxFieldBytes)
	}
	if !strings.HasPrefix(got, "hostile.field_0000000\x00") {
		t.Errorf("the first names are not kept: %.60q", got)
	}
}
