package index

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/storage"
)

// TestSnapshotHook: a pass that moves the cursor writes the snapshot of
// the new cursor once cursor.json names it and OnIndexed has run (the
// snapshot never delays a publication's visibility); a pass that changes nothing
// writes the current cursor's once (stores indexed before snapshots gain
// one); a failing writer is logged, not fatal; pruning a cursor deletes
// its snapshot.
func TestSnapshotHook(t *testing.T) {
	ctx := context.Background()
	b := memBuckets(t)
	ix := NewIndexer(b, nil)
	var calls []string
	var indexed string
	ix.OnIndexed = func(cursor string) { indexed = cursor }
	fail := false
	ix.Snapshot = func(ctx context.Context, bk *storage.Bucket, cursor string) error {
		calls = append(calls, cursor)
		// The snapshot follows the commit and the reload.
		if cur, err := ReadCursor(ctx, bk); err != nil || cur != cursor {
			return fmt.Errorf("cursor.json names %q (%v), not yet %s", cur, err, cursor)
		}
		if ix.OnIndexed != nil && indexed != cursor {
			return fmt.Errorf("snapshot of %s before OnIndexed", cursor)
		}
		if fail {
			return errors.New("bucket full")
		}
		return bk.WriteAll(ctx, storage.IndexSnapshotKey(cursor), []byte(cursor), nil)
	}
	put(t, b, packageid.ID{Name: "a", Version: "1.0.0"}, true)
	res, err := ix.Index(ctx)
	if err != nil || !res.Moved {
		t.Fatalf("pass: %+v %v", res, err)
	}
	if len(calls) != 1 || calls[0] != res.Cursor {
		t.Fatalf("snapshot calls %v, want [%s]", calls, res.Cursor)
	}
	if ok, _ := b.Internal.Exists(ctx, storage.IndexSnapshotKey(res.Cursor)); !ok {
		t.Fatal("no snapshot for the new cursor")
	}

	// An old store: the current cursor has no snapshot; a new indexer's
	// idle pass writes it, once.
	b.Internal.Delete(ctx, storage.IndexSnapshotKey(res.Cursor))
	ix2 := NewIndexer(b, nil)
	ix2.Snapshot, calls = ix.Snapshot, nil
	ix.Snapshot, ix.OnIndexed = nil, nil
	checkIdle := func() {
		t.Helper()
		idle, err := ix2.Index(ctx)
		if err != nil || idle.Moved {
			t.Fatalf("idle pass: %+v %v", idle, err)
		}
	}
	checkIdle()
	checkIdle()
	if len(calls) != 1 || calls[0] != res.Cursor {
		t.Fatalf("idle passes: snapshot calls %v, want [%s]", calls, res.Cursor)
	}
	// A writer that fails does not stop the pass; the next cursor is
	// committed and readers parse its JSON index.
	fail = true
	put(t, b, packageid.ID{Name: "a", Version: "1.0.1"}, true)
	res2, err := ix2.Index(ctx)
	if err != nil || !res2.Moved {
		t.Fatalf("pass with a failing snapshot writer: %+v %v", res2, err)
	}
	// Pruning drops the snapshots with their cursors.
	ix2.Keep, ix2.KeepFor = 1, 0
	if err := ix2.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.Internal.Exists(ctx, storage.IndexSnapshotKey(res.Cursor)); ok {
		t.Error("the pruned cursor's snapshot is left behind")
	}
}
