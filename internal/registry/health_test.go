package registry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/registry"
	"pkgstore/internal/storage"
)

func TestHealth(t *testing.T) {
	ctx := context.Background()
	pub, _ := storage.OpenURL(ctx, "mem://")
	in, _ := storage.OpenURL(ctx, "mem://")
	b := &storage.Buckets{Public: pub, Internal: in}
	defer b.Close()
	r, err := registry.New(registry.Config{Buckets: b, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	type health struct {
		Status string
		Index  struct {
			Loaded            bool
			Cursor            string
			Revisions         int
			AgeSeconds        *float64 `json:"age_seconds"`
			CheckedSecondsAgo *float64 `json:"checked_seconds_ago"`
		}
	}
	check := func(name string, code int, body string, verbose func(h health) bool) {
		t.Helper()
		w := get2(r, "/health")
		if w.Code != code || w.Body.String() != body {
			t.Errorf("%s: /health = %d %q, want %d %q", name, w.Code, w.Body, code, body)
		}
		w = get2(r, "/health?verbose=true")
		var h health
		if err := json.Unmarshal(w.Body.Bytes(), &h); w.Code != code || err != nil || !verbose(h) {
			t.Errorf("%s: /health?verbose=true = %d %s", name, w.Code, w.Body)
		}
	}
	check("before any load", 503, "index not loaded yet\n", func(h health) bool { return h.Status == "loading" && !h.Index.Loaded })
	if err := r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	check("no index written yet", 200, "", func(h health) bool {
		return h.Status == "ok" && h.Index.Loaded && h.Index.Cursor == "" && h.Index.AgeSeconds == nil && h.Index.CheckedSecondsAgo != nil
	})
	// A cursor that is not a timestamp has no age.
	writeIndex := func(cursor string) {
		t.Helper()
		if err := in.WriteFile(ctx, storage.IndexAllKey(cursor), strings.NewReader(`{"packages":[]}`), nil); err != nil {
			t.Fatal(err)
		}
		if err := in.WriteFile(ctx, storage.CursorKey, strings.NewReader(`{"current":"`+cursor+`"}`), nil); err != nil {
			t.Fatal(err)
		}
		if err := r.Reload(ctx); err != nil {
			t.Fatal(err)
		}
	}
	writeIndex("00000000000000000101")
	check("synthetic cursor", 200, "", func(h health) bool { return h.Index.Loaded && h.Index.AgeSeconds == nil })
	// An index written ten minutes ago (cursors are the writer's clock).
	cursor := fmt.Sprintf("%019d", time.Now().Add(-10*time.Minute).UnixNano())
	if err := in.WriteFile(ctx, storage.IndexAllKey(cursor), strings.NewReader(`{"packages":[]}`), nil); err != nil {
		t.Fatal(err)
	}
	if err := in.WriteFile(ctx, storage.CursorKey, strings.NewReader(`{"current":"`+cursor+`"}`), nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	check("index loaded", 200, "", func(h health) bool {
		return h.Index.Loaded && h.Index.Cursor == cursor && h.Index.AgeSeconds != nil && *h.Index.AgeSeconds > 590 && *h.Index.AgeSeconds < 700 && *h.Index.CheckedSecondsAgo < 60
	})
}
