package registry_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pkgstore/internal/registry"
	"pkgstore/internal/storage"
	"pkgstore/internal/storage/driver"
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

// flaky is a bucket driver that fails every read while down is set: a
// bucket whose endpoint stopped answering.
type flaky struct {
	driver.Bucket
	down  atomic.Bool
	reads atomic.Int64
	// gone: the bucket does not exist (S3 NoSuchBucket): every object
	// read answers "not found", every listing fails.
	gone atomic.Bool
}

var errDown = errors.New("dial tcp 192.0.2.1:443: connect: connection refused")

func (f *flaky) ReadAll(ctx context.Context, key string) ([]byte, error) {
	f.reads.Add(1)
	if f.down.Load() {
		return nil, errDown
	}
	if f.gone.Load() {
		return nil, fmt.Errorf("NoSuchBucket: %w", driver.ErrNotExist)
	}
	return f.Bucket.ReadAll(ctx, key)
}

func (f *flaky) NewRangeReader(ctx context.Context, key string, off, n int64) (driver.Reader, error) {
	f.reads.Add(1)
	if f.down.Load() {
		return nil, errDown
	}
	return f.Bucket.NewRangeReader(ctx, key, off, n)
}

func (f *flaky) Attributes(ctx context.Context, key string) (*driver.Attributes, error) {
	f.reads.Add(1)
	if f.down.Load() {
		return nil, errDown
	}
	return f.Bucket.Attributes(ctx, key)
}

func (f *flaky) List(ctx context.Context, o *driver.ListOptions) ([]driver.Object, error) {
	f.reads.Add(1)
	if f.down.Load() {
		return nil, errDown
	}
	if f.gone.Load() {
		return nil, fmt.Errorf("list: NoSuchBucket: the specified bucket does not exist: %w", driver.ErrNotExist)
	}
	return f.Bucket.List(ctx, o)
}

// TestHealthUnreachableBuckets is the attack of issue 21 item 10: a store
// whose buckets stop answering must not look healthy (a load balancer and
// Fleet would see a healthy, empty or stale registry). /health answers 503
// while the watch loop's probe fails, says why with ?verbose=true, costs
// no bucket request itself, and comes back at the next successful probe.
func TestHealthUnreachableBuckets(t *testing.T) {
	ctx := context.Background()
	mk := func() *flaky {
		b, _ := storage.OpenURL(ctx, "mem://")
		return &flaky{Bucket: b.Driver()}
	}
	pubDrv, inDrv := mk(), mk()
	b := &storage.Buckets{Public: storage.NewBucket(pubDrv), Internal: storage.NewBucket(inDrv)}
	defer b.Close()
	r, err := registry.New(registry.Config{Buckets: b, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	verbose := func() (int, map[string]any) {
		t.Helper()
		w := get2(r, "/health?verbose=true")
		var h map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &h); err != nil {
			t.Fatalf("/health?verbose=true: %v: %s", err, w.Body)
		}
		return w.Code, h
	}

	// Unreachable from the start: 503, and the reason is the bucket's error.
	inDrv.down.Store(true)
	if err := r.Reload(ctx); err == nil {
		t.Fatal("Reload succeeded with the internal bucket down")
	}
	if w := get2(r, "/health"); w.Code != 503 {
		t.Errorf("unreachable before the first load: /health = %d, want 503", w.Code)
	}
	if code, h := verbose(); code != 503 || !strings.Contains(fmt.Sprint(h["reason"]), "connection refused") {
		t.Errorf("unreachable before the first load: verbose = %d %v, want 503 with the bucket's error as reason", code, h)
	}

	// Reachable: EPR's exact healthy answer.
	inDrv.down.Store(false)
	if err := r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	r.Probe(ctx)
	if w := get2(r, "/health"); w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("healthy: /health = %d %q, want 200 and no body", w.Code, w.Body)
	}

	// The internal bucket goes away after a load: the stale index must
	// not look healthy.
	inDrv.down.Store(true)
	if err := r.Reload(ctx); err == nil {
		t.Fatal("Reload succeeded with the internal bucket down")
	}
	if w := get2(r, "/health"); w.Code != 503 {
		t.Errorf("internal bucket unreachable after a load: /health = %d, want 503", w.Code)
	}
	code, h := verbose()
	if code != 503 || h["status"] != "unavailable" || !strings.Contains(fmt.Sprint(h["reason"]), "internal bucket") {
		t.Errorf("internal bucket unreachable: verbose = %d %v", code, h)
	}
	// /health itself never touches a bucket.
	before := inDrv.reads.Load() + pubDrv.reads.Load()
	for range 50 {
		get2(r, "/health")
		get2(r, "/health?verbose=true")
	}
	if n := inDrv.reads.Load() + pubDrv.reads.Load() - before; n != 0 {
		t.Errorf("100 /health requests made %d bucket requests, want 0", n)
	}
	inDrv.down.Store(false)
	if err := r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if w := get2(r, "/health"); w.Code != 200 {
		t.Errorf("internal bucket back: /health = %d, want 200", w.Code)
	}

	// The public bucket (zips, signatures, static files) goes away: the
	// watch loop's probe sees it.
	pubDrv.down.Store(true)
	r.Probe(ctx)
	if code, h := verbose(); code != 503 || !strings.Contains(fmt.Sprint(h["reason"]), "public bucket") {
		t.Errorf("public bucket unreachable: verbose = %d %v, want 503 naming the public bucket", code, h)
	}
	pubDrv.down.Store(false)
	r.Probe(ctx)
	if w := get2(r, "/health"); w.Code != 200 {
		t.Errorf("public bucket back: /health = %d, want 200", w.Code)
	}

	// A bucket that does not exist (a wrong name, a MinIO without it)
	// answers every read with "not found": cursor.json absent reads as
	// "no index yet", an empty store. The probe's listing tells them apart.
	inDrv.gone.Store(true)
	if err := r.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	r.Probe(ctx)
	if code, h := verbose(); code != 503 || !strings.Contains(fmt.Sprint(h["reason"]), "NoSuchBucket") {
		t.Errorf("internal bucket missing: verbose = %d %v, want 503 naming the missing bucket", code, h)
	}
	inDrv.gone.Store(false)
	r.Probe(ctx)
	if w := get2(r, "/health"); w.Code != 200 {
		t.Errorf("internal bucket back: /health = %d, want 200", w.Code)
	}
}
