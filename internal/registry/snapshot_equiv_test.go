package registry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/publish/index"
	"pkgstore/internal/server"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/eprdiff"
	"pkgstore/internal/testkit/gentest"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sharedtest"
)

// The catalog snapshot must change nothing but the load: a registry that
// read its index from the snapshot answers every request byte for byte as
// one that parsed the JSON index (status, every header but Date, body),
// before and after deltas.

// TestSnapshotAnswersGenerated runs the comparison over gentest's
// generated packages (two seeds).
func TestSnapshotAnswersGenerated(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			dir := t.TempDir()
			if _, err := gentest.Write(dir, seed, 30); err != nil {
				t.Fatal(err)
			}
			c := eprdiff.NewCorpus(fmt.Sprintf("generated-%d", seed))
			c.AddV1Folders(t, dir)
			snapshotEquivalence(t, c.Packages)
		})
	}
}

// TestSnapshotAnswersV1 runs it over the v1 sample (skips without it).
func TestSnapshotAnswersV1(t *testing.T) {
	sharedtest.Archive(t, sharedtest.V1Sample) // skips when absent
	if testing.Short() {
		t.Skip("publishes the v1 sample")
	}
	c := eprdiff.NewCorpus("v1")
	c.AddV1Folders(t, filepath.Join(sharedtest.UnpackV1(t), "packages"))
	snapshotEquivalence(t, c.Packages)
}

// snapshotEquivalence publishes the first two thirds of pkgs through a
// writer (which writes each cursor's snapshot), starts a read-only
// registry that loads the snapshot and one that cannot (the snapshot
// hidden while it starts), compares them; publishes the rest (both
// follow the delta) and compares again, and then a third registry
// started from the newest cursor's snapshot.
func snapshotEquivalence(t *testing.T, pkgs []eprdiff.Package) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "data")
	configure := func(readOnly bool) func(*server.Config) {
		return func(c *server.Config) {
			c.Registry.CacheTimes = testCacheTimes
			c.Registry.AllowUnknownQueryParams = true
			c.ReadOnly = readOnly
		}
	}
	writer := servertest.Start(t, servertest.Options{Data: data, Configure: configure(false)})
	toZips := func(ps []eprdiff.Package) []servertest.Zip {
		var out []servertest.Zip
		for _, p := range ps {
			out = append(out, servertest.Zip{ID: p.ID, Data: p.Zip})
		}
		return out
	}
	split := len(pkgs) * 2 / 3
	writer.PublishZips(t, toZips(pkgs[:split]))
	bk, err := storage.Open(ctx, storage.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Close()
	first := waitIndexed(t, bk, split)
	reader := func() *servertest.Store {
		return servertest.Start(t, servertest.Options{Data: data, Key: writer.Key, Configure: configure(true)})
	}
	fromSnap := reader()
	wantSource(t, fromSnap, first, "snapshot")
	// The JSON side: the same store with the snapshot out of the way
	// while it loads.
	snapPath := filepath.Join(data, "internal", filepath.FromSlash(storage.IndexSnapshotKey(first)))
	if err := os.Rename(snapPath, snapPath+".away"); err != nil {
		t.Fatal(err)
	}
	fromJSON := reader()
	wantSource(t, fromJSON, first, "index (snapshot missing)")
	if err := os.Rename(snapPath+".away", snapPath); err != nil {
		t.Fatal(err)
	}
	published := pkgs[:split]
	compareAnswers(t, "full load", fromSnap.URL, fromJSON.URL, published)

	// Deltas on top of either.
	writer.PublishZips(t, toZips(pkgs[split:]))
	second := waitIndexed(t, bk, len(pkgs))
	if second == first {
		t.Fatal("the cursor did not move")
	}
	for _, s := range []*servertest.Store{fromSnap, fromJSON} {
		for _, p := range pkgs[split:] {
			s.WaitVisible(t, p.ID.Name, p.ID.Version)
		}
	}
	compareAnswers(t, "after a delta", fromSnap.URL, fromJSON.URL, pkgs)
	fresh := reader()
	wantSource(t, fresh, second, "snapshot")
	compareAnswers(t, "newest snapshot", fresh.URL, fromJSON.URL, pkgs)
}

// waitIndexed waits until the current cursor holds n revisions and its
// snapshot is written, and returns the cursor.
func waitIndexed(t *testing.T, b *storage.Buckets, n int) string {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(90 * time.Second)
	for {
		cur, err := index.ReadCursor(ctx, b.Internal)
		if err == nil {
			count := 0
			err = index.ReadAll(ctx, b.Internal, cur, func(index.Entry) error { count++; return nil })
			ok, _ := b.Internal.Exists(ctx, storage.IndexSnapshotKey(cur))
			if err == nil && count == n && ok {
				return cur
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no cursor with %d revisions and a snapshot after 90 s (last error %v)", n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wantSource checks where s loaded cursor from (/health?verbose=true).
func wantSource(t *testing.T, s *servertest.Store, cursor, source string) {
	t.Helper()
	_, body := s.Get(t, "/health?verbose=true")
	var h struct {
		Index struct {
			Cursor, Source string
		}
	}
	if err := json.Unmarshal(body, &h); err != nil {
		t.Fatalf("health: %v: %s", err, body)
	}
	if h.Index.Cursor != cursor || h.Index.Source != source {
		t.Fatalf("loaded cursor %s from %q, want %s from %q", h.Index.Cursor, h.Index.Source, cursor, source)
	}
}

// compareAnswers sends every request of eprdiff.All (and the same with
// gzip accepted) to both registries and fails on any difference.
func compareAnswers(t *testing.T, what, a, b string, pkgs []eprdiff.Package) {
	t.Helper()
	ctx := context.Background()
	reqs := eprdiff.All(pkgs)
	reqs = append(reqs, eprdiff.FleetQueries(pkgs)...)
	reqs = append(reqs, eprdiff.Queries(pkgs)...)
	diffs := 0
	for _, r := range reqs {
		x, err := eprdiff.Fetch(ctx, a, r)
		if err != nil {
			t.Fatal(err)
		}
		y, err := eprdiff.Fetch(ctx, b, r)
		if err != nil {
			t.Fatal(err)
		}
		if d := answerDiff(x, y); d != "" {
			diffs++
			if diffs <= 5 {
				t.Errorf("%s: %s: %s", what, r.Key(), d)
			}
		}
	}
	if diffs > 0 {
		t.Fatalf("%s: %d of %d answers differ", what, diffs, len(reqs))
	}
	t.Logf("%s: %d answers identical", what, len(reqs))
}

func answerDiff(x, y *eprdiff.Answer) string {
	if x.Status != y.Status {
		return fmt.Sprintf("status %d vs %d", x.Status, y.Status)
	}
	keys := map[string]bool{}
	for k := range x.Header {
		keys[k] = true
	}
	for k := range y.Header {
		keys[k] = true
	}
	var ks []string
	for k := range keys {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		if k == "Date" {
			continue // per response
		}
		if xv, yv := strings.Join(x.Header[k], ", "), strings.Join(y.Header[k], ", "); xv != yv {
			return fmt.Sprintf("header %s: %q vs %q", k, xv, yv)
		}
	}
	if string(x.Body) != string(y.Body) {
		return "body: " + eprdiff.BodyDiff(x.Body, y.Body)
	}
	return ""
}

// TestOldStoreGainsSnapshot: a store whose current cursor has no catalog
// snapshot (indexed before snapshots existed) gains one when a writer
// starts on it, without moving the cursor; a read-only registry never
// writes one.
func TestOldStoreGainsSnapshot(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := gentest.Write(dir, 3, 4); err != nil {
		t.Fatal(err)
	}
	c := eprdiff.NewCorpus("old-store")
	c.AddV1Folders(t, dir)
	data := filepath.Join(t.TempDir(), "data")
	writer := servertest.Start(t, servertest.Options{Data: data})
	var zips []servertest.Zip
	for _, p := range c.Packages {
		zips = append(zips, servertest.Zip{ID: p.ID, Data: p.Zip})
	}
	writer.PublishZips(t, zips)
	writer.Stop()
	bk, err := storage.Open(ctx, storage.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Close()
	cur := waitIndexed(t, bk, len(zips))
	if err := bk.Internal.Delete(ctx, storage.IndexSnapshotKey(cur)); err != nil {
		t.Fatal(err)
	}
	ro := servertest.Start(t, servertest.Options{Data: data, Key: writer.Key, Configure: func(c *server.Config) { c.ReadOnly = true }})
	wantSource(t, ro, cur, "index (snapshot missing)")
	if ok, _ := bk.Internal.Exists(ctx, storage.IndexSnapshotKey(cur)); ok {
		t.Fatal("a read-only registry wrote a snapshot")
	}
	ro.Stop()
	servertest.Start(t, servertest.Options{Data: data, Key: writer.Key})
	if got := waitIndexed(t, bk, len(zips)); got != cur {
		t.Fatalf("the cursor moved from %s to %s", cur, got)
	}
	fresh := servertest.Start(t, servertest.Options{Data: data, Key: writer.Key, Configure: func(c *server.Config) { c.ReadOnly = true }})
	wantSource(t, fresh, cur, "snapshot")
}
