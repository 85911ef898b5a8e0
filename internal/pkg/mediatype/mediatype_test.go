package mediatype

import "testing"

func TestForFile(t *testing.T) {
	tests := []struct {
		name string
		head string
		want string
	}{
		{"docs/README.md", "# x", "text/markdown; charset=utf-8"},
		{"manifest.yml", "name: x", "text/yaml; charset=UTF-8"},
		{"img/icon.ICO", "\x00\x00\x01\x00", "image/x-icon"},
		{"x.zip", "PK", "application/zip"},
		{"img/logo.svg", "<svg/>", "image/svg+xml"},
		{"img/shot.png", "\x89PNG\r\n\x1a\n", "image/png"},
		{"img/[Logs] a b.jpg", "", "image/jpeg"},
		{"kibana/dashboard/a.json", "{}", "application/json"},
		// Unknown extensions are sniffed, as http.ServeContent does.
		{"agent/stream/stream.yml.hbs", "paths:\n", "text/plain; charset=utf-8"},
		{"agent/stream/empty.yml.hbs", "", "text/plain; charset=utf-8"},
		{"LICENSE", "Elastic License", "text/plain; charset=utf-8"},
		{"data.bin", "\x00\x01\x02", "application/octet-stream"},
	}
	for _, tc := range tests {
		if got := ForFile(tc.name, []byte(tc.head)); got != tc.want {
			t.Errorf("ForFile(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
