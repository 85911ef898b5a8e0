package index

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/ziptest"
)

func memBuckets(t *testing.T) *storage.Buckets {
	t.Helper()
	b, err := storage.Open(context.Background(), storage.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// put publishes id the way the job leaves it: document, then zip.
func put(t *testing.T, b *storage.Buckets, id packageid.ID, withDoc bool) {
	t.Helper()
	ctx := context.Background()
	if withDoc {
		doc := fmt.Sprintf("{\n  \"name\": %q,\n  \"version\": %q,\n  \"title\": \"T <&>\"\n}\n", id.Name, id.Version)
		if err := b.Internal.WriteAll(ctx, storage.DocumentKey(id), []byte(doc), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Public.CreateIfAbsent(ctx, storage.ZipKey(id), bytes.NewReader(ziptest.Package(t, id.Name, id.Version)), nil); err != nil {
		t.Fatal(err)
	}
}

func indexed(t *testing.T, b *storage.Buckets) []string {
	t.Helper()
	cur, err := ReadCursor(context.Background(), b.Internal)
	if err != nil {
		t.Fatal(err)
	}
	// Whether appended to or rewritten, the file is one valid JSON document.
	raw, err := b.Internal.ReadAll(context.Background(), storage.IndexAllKey(cur))
	if err != nil || !json.Valid(raw) {
		t.Fatalf("search-index-all.json of %s is not valid JSON (%v):\n%s", cur, err, raw)
	}
	var out []string
	if err := ReadAll(context.Background(), b.Internal, cur, func(e Entry) error {
		out = append(out, e.ID.String())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestIndexLifecycle(t *testing.T) {
	ctx := context.Background()
	b := memBuckets(t)
	ix := NewIndexer(b, nil)
	var notified []string
	ix.OnIndexed = func(c string) { notified = append(notified, c) }

	res, err := ix.Index(ctx)
	if err != nil || !res.Moved || res.Total != 0 {
		t.Fatalf("first pass on an empty store: %+v %v", res, err)
	}
	first := res.Cursor
	if len(first) != 19 {
		t.Fatalf("cursor %q is not 19 digits", first)
	}

	a, c := packageid.ID{Name: "alpha", Version: "1.0.0"}, packageid.ID{Name: "charlie", Version: "2.0.0-rc1"}
	put(t, b, a, true)
	put(t, b, c, true)
	// Stray objects are not packages.
	b.Public.WriteAll(ctx, storage.PackagesPrefix+"README.txt", []byte("x"), nil)
	b.Public.WriteAll(ctx, storage.PackagesPrefix+"Bad-1.zip", []byte("x"), nil)
	res, err = ix.Index(ctx)
	if err != nil || !res.Moved || res.Added != 2 || res.Total != 2 {
		t.Fatalf("second pass: %+v %v", res, err)
	}
	if res.Cursor <= first {
		t.Fatalf("cursor %s does not sort after %s", res.Cursor, first)
	}
	if got := strings.Join(indexed(t, b), " "); got != "alpha-1.0.0 charlie-2.0.0-rc1" {
		t.Fatalf("index = %s", got)
	}
	d, err := ReadDelta(ctx, b.Internal, res.Cursor)
	if err != nil || len(d.Added) != 2 || len(d.Removed) != 0 || d.Added[0].ID != a {
		t.Fatalf("delta %+v %v", d, err)
	}
	// Documents are stored compact, HTML characters untouched.
	if !bytes.Contains(d.Added[0].Manifest, []byte(`"title":"T <&>"`)) {
		t.Errorf("manifest %s", d.Added[0].Manifest)
	}

	// Nothing changed: no new cursor.
	again, err := ix.Index(ctx)
	if err != nil || again.Moved || again.Cursor != res.Cursor {
		t.Fatalf("idle pass moved the cursor: %+v %v", again, err)
	}

	// A removed zip leaves the index; a zip without document gets one.
	if err := b.Public.Delete(ctx, storage.ZipKey(a)); err != nil {
		t.Fatal(err)
	}
	bravo := packageid.ID{Name: "bravo", Version: "0.1.0"}
	put(t, b, bravo, false)
	res2, err := ix.Index(ctx)
	if err != nil || !res2.Moved || res2.Added != 1 || res2.Removed != 1 {
		t.Fatalf("third pass: %+v %v", res2, err)
	}
	if got := strings.Join(indexed(t, b), " "); got != "bravo-0.1.0 charlie-2.0.0-rc1" {
		t.Fatalf("index = %s", got)
	}
	d, _ = ReadDelta(ctx, b.Internal, res2.Cursor)
	if len(d.Removed) != 1 || d.Removed[0] != a {
		t.Fatalf("removed = %+v", d.Removed)
	}
	var doc struct{ Name, Version, Download string }
	if err := json.Unmarshal(d.Added[0].Manifest, &doc); err != nil || doc.Name != "bravo" || doc.Download != "/epr/bravo/bravo-0.1.0.zip" {
		t.Fatalf("document built from the zip: %+v %v", doc, err)
	}
	if ok, _ := b.Internal.Exists(ctx, storage.DocumentKey(bravo)); !ok {
		t.Error("document built from the zip was not stored")
	}
	cursors, err := ListCursors(ctx, b.Internal, first, res2.Cursor)
	if err != nil || len(cursors) != 2 || cursors[1] != res2.Cursor {
		t.Fatalf("ListCursors = %v %v", cursors, err)
	}
	if len(notified) != 3 {
		t.Errorf("OnIndexed called %d times, want 3 (once per moved cursor)", len(notified))
	}
}

func TestNextCursorAlwaysIncreases(t *testing.T) {
	ix := NewIndexer(nil, nil)
	ix.now = func() time.Time { return time.Unix(100, 0) }
	tests := map[string]string{
		"":                    "0000000100000000000",
		"0000000050000000000": "0000000100000000000",
		"0000000200000000000": "0000000200000000001", // clock went backwards
		"9":                   "91",                  // foreign cursor format
	}
	for prev, want := range tests {
		if got := ix.nextCursor(prev); got != want || got <= prev {
			t.Errorf("nextCursor(%q) = %q, want %q", prev, got, want)
		}
	}
}

// TestConcurrentIndexersConverge runs several indexers (as separate
// processes would) while packages keep appearing; once publishing stops and
// each has run, the index holds everything.
func TestConcurrentIndexersConverge(t *testing.T) {
	ctx := context.Background()
	b := memBuckets(t)
	var wg sync.WaitGroup
	const n = 30
	for w := 0; w < 3; w++ {
		ix := NewIndexer(b, nil)
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 3 {
				put(t, b, packageid.ID{Name: "pkg", Version: fmt.Sprintf("1.0.%d", i)}, true)
				if _, err := ix.Index(ctx); err != nil {
					t.Error(err)
				}
			}
		}(w)
	}
	wg.Wait()
	if got := indexed(t, b); len(got) != n {
		t.Fatalf("index holds %d packages after concurrent indexing, want %d", len(got), n)
	}
}

func TestPruneKeepsRecentCursors(t *testing.T) {
	ctx := context.Background()
	b := memBuckets(t)
	ix := NewIndexer(b, nil)
	clock := time.Unix(1_000_000, 0)
	ix.now = func() time.Time { return clock }
	ix.Keep, ix.KeepFor = 3, 100*time.Minute
	var cursors []string
	for i := 0; i < 8; i++ {
		put(t, b, packageid.ID{Name: "p", Version: fmt.Sprintf("1.0.%d", i)}, true)
		res, err := ix.Index(ctx)
		if err != nil || !res.Moved {
			t.Fatalf("pass %d: %+v %v", i, res, err)
		}
		cursors = append(cursors, res.Cursor)
		clock = clock.Add(30 * time.Minute)
	}
	left, err := ListCursors(ctx, b.Internal, "", cursors[len(cursors)-1])
	if err != nil {
		t.Fatal(err)
	}
	// The newest 3 (cursors[5:]) are kept whatever their age; older ones
	// only while younger than 100 minutes at the last pass: cursors[4] is 90
	// minutes old and stays, cursors[3] is 120 minutes old and goes.
	if got, want := strings.Join(left, ","), strings.Join(cursors[4:], ","); got != want {
		t.Fatalf("cursors left:\n%s\nwant\n%s", got, want)
	}
	if got := indexed(t, b); len(got) != 8 {
		t.Fatalf("current index has %d packages", len(got))
	}
	// The oldest survivor lost its delta (a reader that lagged behind the
	// pruned cursors must load its full index), the later ones kept theirs.
	for i, c := range cursors[4:] {
		hasAll, err := b.Internal.Exists(ctx, storage.IndexAllKey(c))
		if err != nil || !hasAll {
			t.Errorf("cursor %s: full index present = %v, %v", c, hasAll, err)
		}
		hasDelta, err := b.Internal.Exists(ctx, storage.IndexDeltaKey(c))
		if err != nil || hasDelta != (i > 0) {
			t.Errorf("cursor %s (survivor %d): delta present = %v, %v; want %v", c, i, hasDelta, err, i > 0)
		}
	}
}

// TestUnusableZipDoesNotBlockIndexing puts a zip that cannot be opened (and
// has no stored document) beside a good one.
func TestUnusableZipDoesNotBlockIndexing(t *testing.T) {
	ctx := context.Background()
	b := memBuckets(t)
	ix := NewIndexer(b, nil)
	foreign := packageid.ID{Name: "foreign", Version: "1.0.0"}
	if err := b.Public.WriteAll(ctx, storage.ZipKey(foreign), []byte("not a zip"), nil); err != nil {
		t.Fatal(err)
	}
	put(t, b, packageid.ID{Name: "good", Version: "1.0.0"}, true)
	res, err := ix.Index(ctx)
	if err != nil {
		t.Fatalf("Index: %v", err)
	}
	if got := strings.Join(indexed(t, b), " "); got != "good-1.0.0" || res.Total != 1 {
		t.Fatalf("index = %s (total %d), want only good-1.0.0", got, res.Total)
	}
	if _, ok := ix.bad[foreign]; !ok {
		t.Fatal("the unusable zip was not remembered")
	}
	// Later passes neither retry it nor move the cursor for it.
	again, err := ix.Index(ctx)
	if err != nil || again.Moved {
		t.Fatalf("second pass: %+v %v", again, err)
	}
}

func TestRunSpacesPassesUnlessUrgent(t *testing.T) {
	b := memBuckets(t)
	ix := NewIndexer(b, nil)
	ix.MinInterval = time.Hour
	passes := make(chan Result, 10)
	var slow atomic.Bool // the next pass takes 150 ms more
	ix.OnPass = func(res Result, _ time.Duration, _ error) {
		if slow.Swap(false) {
			time.Sleep(150 * time.Millisecond)
		}
		passes <- res
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ix.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	wait := func(what string) Result {
		t.Helper()
		select {
		case r := <-passes:
			return r
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no pass", what)
			return Result{}
		}
	}
	// The first trigger runs at once: no pass has run yet.
	put(t, b, packageid.ID{Name: "a", Version: "1.0.0"}, true)
	ix.Trigger()
	if r := wait("first trigger"); r.Total != 1 {
		t.Fatalf("first pass indexed %d, want 1", r.Total)
	}
	// Within MinInterval of it, a plain trigger waits (an hour here)...
	put(t, b, packageid.ID{Name: "b", Version: "1.0.0"}, true)
	ix.Trigger()
	ix.Trigger() // and triggers coalesce
	select {
	case r := <-passes:
		t.Fatalf("a pass ran within MinInterval: %+v", r)
	case <-time.After(300 * time.Millisecond):
	}
	// ...until an urgent one cuts the wait short; both are served by one pass.
	slow.Store(true)
	ix.TriggerNow()
	if r := wait("urgent trigger"); r.Total != 2 || r.Added != 1 {
		t.Fatalf("urgent pass: %+v, want 2 revisions, 1 added", r)
	}
	ended := time.Now()
	select {
	case r := <-passes:
		t.Fatalf("an extra pass ran: %+v", r)
	case <-time.After(300 * time.Millisecond):
	}
	// That pass took over 150 ms: even an urgent trigger now waits
	// passSpacing times as long after it, not MinInterval.
	put(t, b, packageid.ID{Name: "c", Version: "1.0.0"}, true)
	ix.TriggerNow()
	r := wait("urgent trigger after a long pass")
	if since := time.Since(ended); since < passSpacing*150*time.Millisecond {
		t.Fatalf("urgent pass ran %v after a 150 ms pass, want at least %v", since, passSpacing*150*time.Millisecond)
	}
	if r.Total != 3 || r.Added != 1 {
		t.Fatalf("spaced urgent pass: %+v, want 3 revisions, 1 added", r)
	}
}

// TestIndexLeavesLaterPublicationsToLaterPasses: a zip published while a
// pass runs is not chased by another pass of the same Index call (during
// a burst that would chain full rewrites of the index back to back); its
// publisher's trigger gets it into the next one.
func TestIndexLeavesLaterPublicationsToLaterPasses(t *testing.T) {
	ctx := context.Background()
	b := memBuckets(t)
	ix := NewIndexer(b, nil)
	put(t, b, packageid.ID{Name: "a", Version: "1.0.0"}, true)
	lists := 0
	ix.Hidden = func(context.Context) (map[packageid.ID]bool, error) {
		if lists++; lists == 1 {
			// Published just after the pass listed the bucket.
			put(t, b, packageid.ID{Name: "b", Version: "1.0.0"}, true)
		}
		return nil, nil
	}
	res, err := ix.Index(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(indexed(t, b), " "); res.Total != 1 || got != "a-1.0.0" || lists != 1 {
		t.Fatalf("first Index: %+v, index %q, %d listings; want one pass indexing a-1.0.0", res, got, lists)
	}
	res, err = ix.Index(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(indexed(t, b), " "); res.Total != 2 || res.Added != 1 || got != "a-1.0.0 b-1.0.0" {
		t.Fatalf("second Index: %+v, index %q; want b-1.0.0 added", res, got)
	}
}
