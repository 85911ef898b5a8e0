package ui

import (
	"context"
	"strings"
	"testing"

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
