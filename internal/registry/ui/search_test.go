package ui_test

import (
	"context"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"pkgstore/internal/govern/provenance"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/registry/ui"
	"pkgstore/internal/server"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/treetest"
)

// rankingStore publishes packages that match "log" in each place the
// ranking weighs, then one more later (the most recently updated).
func rankingStore(t *testing.T) *server.Server {
	t.Helper()
	s := startPlain(t, nil)
	m := func(name, title, desc string) string {
		return "format_version: 1.0.0\nname: " + name + "\ntitle: " + title + "\ndescription: " + desc +
			"\nversion: 1.0.0\ntype: integration\nrelease: ga\nlicense: basic\n"
	}
	dir := t.TempDir()
	treetest.Write(t, dir, map[string]string{
		"nginx/1.0.0/manifest.yml":                                          m("nginx", "Nginx", "Collect logs from Nginx"),
		"log/1.0.0/manifest.yml":                                            m("log", "Custom files", "Tail any file"),
		"syslog_router/1.0.0/manifest.yml":                                  m("syslog_router", "Syslog router", "Routes messages"),
		"alpha/1.0.0/manifest.yml":                                          m("alpha", "Alpha", "Reads log files"),
		"beta_pkg/1.0.0/manifest.yml":                                       m("beta_pkg", "Beta", "Nothing to see"),
		"beta_pkg/1.0.0/data_stream/heartbeat_lines/manifest.yml":           "title: Heartbeat register\ntype: metrics\n",
		"beta_pkg/1.0.0/data_stream/heartbeat_lines/fields/base-fields.yml": "- name: data_stream.type\n  type: constant_keyword\n  description: Data stream type.\n",
		"other/1.0.0/manifest.yml":                                          m("other", "Other", "Unrelated"),
	})
	for _, n := range []string{"nginx", "log", "syslog_router", "alpha", "beta_pkg"} {
		treetest.Write(t, dir, map[string]string{n + "/1.0.0/docs/README.md": "# " + n + "\n"})
	}
	// Other's README lists its exported fields, as elastic-package writes them.
	treetest.Write(t, dir, map[string]string{"other/1.0.0/docs/README.md": "# other\n\n**Exported fields**\n\n| Field | Description | Type |\n|---|---|---|\n| other.quux_latency_ms | Latency. | long |\n"})
	publishFolders(t, s, dir)
	later := t.TempDir()
	treetest.Write(t, later, map[string]string{"zulu/1.0.0/manifest.yml": m("zulu", "Zulu", "Newest of all"), "zulu/1.0.0/docs/README.md": "# zulu\n"})
	publishFolders(t, s, later)
	return s.Server
}

var cardRe = regexp.MustCompile(`<span class="card-title">([^<]*)</span>`)

func cards(body string) string {
	var out []string
	for _, m := range cardRe.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return strings.Join(out, ",")
}

// TestSearchRanking: a text search lists the package of that exact name
// first, then names and titles holding it, then descriptions, then data
// stream names and the README's exported field names; results are paged and can be sorted by name or by
// publication date.
func TestSearchRanking(t *testing.T) {
	srv := rankingStore(t)
	h, err := ui.New(ui.Config{Catalog: srv.Registry.Catalog, Public: srv.Buckets.Public, Internal: srv.Buckets.Internal, PageSize: 2, Artifacts: artifactsOf(srv)})
	if err != nil {
		t.Fatal(err)
	}
	page := func(url string) string {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", url, nil))
		if rec.Code != 200 {
			t.Fatalf("%s: %d\n%s", url, rec.Code, rec.Body)
		}
		return rec.Body.String()
	}
	all := func(url string) string {
		t.Helper()
		var got []string
		for i := 1; ; i++ {
			body := page(url + "&page=" + string(rune('0'+i)))
			got = append(got, cards(body))
			if !strings.Contains(body, `rel="next"`) {
				return strings.Join(got, "|")
			}
			if i > 9 {
				t.Fatalf("%s: more than 9 pages", url)
			}
		}
	}
	for _, c := range []struct{ url, want string }{
		{"/ui/?q=log", "Custom files,Syslog router|Alpha,Nginx"},
		{"/ui/?q=heartbeat", "Beta"},
		{"/ui/?q=QUUX_latency", "Other"}, // a field of its README's exported-fields table
		{"/ui/?q=latency.", ""},
		{"/ui/?q=LOG&sort=name", "Alpha,Custom files|Nginx,Syslog router"},
		{"/ui/?sort=updated", "Zulu,"},
		{"/ui/?sort=name", "Alpha,Beta|Custom files,Nginx|Other,Syslog router|Zulu"},
		{"/ui/?sort=bogus", "Alpha,Beta|Custom files,Nginx|Other,Syslog router|Zulu"},
	} {
		got := all(c.url)
		if strings.HasSuffix(c.want, ",") {
			if !strings.HasPrefix(got, c.want) {
				t.Errorf("%s: %s, want it to start with %s", c.url, got, c.want)
			}
		} else if got != c.want {
			t.Errorf("%s: %s, want %s", c.url, got, c.want)
		}
	}
	body := page("/ui/?q=log&page=2")
	for _, w := range []string{"4 of 7 packages · showing 3–4", "Page 2 of 2", `href="/ui/?q=log" rel="prev"`, `<option value="relevance" selected>relevance</option>`, `<time class="published" datetime="20`} {
		if !strings.Contains(body, w) {
			t.Errorf("q=log page 2 lacks %q", w)
		}
	}
	if body := page("/ui/?page=99"); !strings.Contains(body, "Page 4 of 4") || cards(body) != "Zulu" {
		t.Errorf("a page past the end shows the last: %s", cards(body))
	}
}

// storeArtifacts reads the store's provenance records, as the server's
// own source does.
type storeArtifacts struct{ srv *server.Server }

func artifactsOf(srv *server.Server) ui.ArtifactSource { return storeArtifacts{srv} }

func (a storeArtifacts) Artifact(ctx context.Context, id packageid.ID) (*ui.ArtifactRecord, error) {
	rev, err := provenance.Read(ctx, a.srv.Buckets.Internal, id)
	if storage.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &ui.ArtifactRecord{SHA256: rev.SHA256, Published: rev.Published}, nil
}
