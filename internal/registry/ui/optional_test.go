package ui_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/registry/ui"
)

// recordedYanks and recordedArtifacts stand in for the store's yank and
// provenance records, which live on other branches: the catalog only
// needs the two small interfaces.
type recordedYanks map[string]map[string]ui.Yank

func (y recordedYanks) Yanked(_ context.Context, name string) (map[string]ui.Yank, error) {
	if name == "broken" {
		return nil, errors.New("records unreadable")
	}
	return y[name], nil
}

type recordedArtifacts map[packageid.ID]*ui.ArtifactRecord

func (a recordedArtifacts) Artifact(_ context.Context, id packageid.ID) (*ui.ArtifactRecord, error) {
	return a[id], nil
}

func TestOptionalRecords(t *testing.T) {
	f := hostileStore(t)
	srv := f.store.Server
	good := packageid.ID{Name: "good", Version: "1.0.0"}
	for _, c := range []struct {
		name string
		cfg  ui.Config
		url  string
		want []string
		not  []string
	}{
		{"none", ui.Config{}, "/ui/package/good/1.0.0/", nil, []string{"yanked", "SHA-256", "Signing key"}},
		{"yanked current", ui.Config{Yanks: recordedYanks{"good": {"1.0.0": {Reason: "broke <b>ingest</b>", At: time.Now()}}}}, "/ui/package/good/1.0.0/",
			[]string{"This version was yanked on <time datetime=", "Reason: broke &lt;b&gt;ingest&lt;/b&gt;", `badge-yanked">yanked`}, nil},
		{"yanked other, left out of the index", ui.Config{Yanks: recordedYanks{"good": {"0.9.0": {Reason: "bad"}}}}, "/ui/package/good/1.0.0/",
			[]string{`<span class="muted">0.9.0</span>`, `badge-yanked">yanked`}, []string{"This version was yanked", `href="/ui/package/good/0.9.0/"`}},
		{"artifact record", ui.Config{Artifacts: recordedArtifacts{good: {SHA256: "ab12", SignerFingerprint: "F00D"}}}, "/ui/package/good/1.0.0/",
			[]string{"SHA-256", "ab12", "Signing key", "F00D"}, nil},
		{"no record for this one", ui.Config{Artifacts: recordedArtifacts{good: {SHA256: "ab12"}}}, "/ui/package/hostile/1.0.0/",
			nil, []string{"SHA-256"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.Catalog, cfg.Public = srv.Registry.Catalog, srv.Buckets.Public
			h, err := ui.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, c.url, nil))
			body := w.Body.String()
			if w.Code != 200 {
				t.Fatalf("%d", w.Code)
			}
			for _, s := range c.want {
				if !strings.Contains(body, s) {
					t.Errorf("lacks %q", s)
				}
			}
			for _, s := range c.not {
				if strings.Contains(body, s) {
					t.Errorf("holds %q", s)
				}
			}
		})
	}
}

// TestFailedReadsAreNotCached: a page built while a record source failed
// is served but rendered again on the next request.
func TestFailedReadsAreNotCached(t *testing.T) {
	f := hostileStore(t)
	srv := f.store.Server
	src := &flakyYanks{}
	h, err := ui.New(ui.Config{Catalog: srv.Registry.Catalog, Public: srv.Buckets.Public, Yanks: src})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{1, 2, 2} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/ui/package/good/1.0.0/", nil))
		if w.Code != 200 || src.calls != want {
			t.Errorf("request %d: %d, %d calls to the source, want %d", i, w.Code, src.calls, want)
		}
		if i == 0 && w.Header().Get("ETag") != "" {
			t.Error("an incomplete page carries an ETag")
		}
	}
}

type flakyYanks struct{ calls int }

func (f *flakyYanks) Yanked(context.Context, string) (map[string]ui.Yank, error) {
	f.calls++
	if f.calls == 1 {
		return nil, errors.New("bucket unavailable")
	}
	return nil, nil
}
