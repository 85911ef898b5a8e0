package yank

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"pkgstore/internal/govern/audit"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/storagetest"
	"pkgstore/internal/testkit/ziptest"
)

func backends(t *testing.T) map[string]func(t *testing.T) *storage.Buckets {
	out := map[string]func(t *testing.T) *storage.Buckets{
		"file": func(t *testing.T) *storage.Buckets {
			b, err := storage.Open(context.Background(), storage.Config{DataDir: filepath.Join(t.TempDir(), "data")})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			return b
		},
	}
	for _, be := range storagetest.Backends {
		out[be.Name] = func(t *testing.T) *storage.Buckets {
			srv := be.Start(t)
			return &storage.Buckets{Public: storagetest.Open(t, srv.NewBucket(t)), Internal: storagetest.Open(t, srv.NewBucket(t))}
		}
	}
	return out
}

// TestSet: yanks and unyanks, also racing ones from two stores, end in one
// consistent history whose every change has its audit record.
func TestSet(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			b := open(t)
			log := audit.New(b.Internal)
			id := packageid.ID{Name: "aws", Version: "2.3.1"}
			stores := []*Store{New(b, log), New(b, log)}
			var changes int
			var mu sync.Mutex
			for _, s := range stores {
				s.OnChange = func(packageid.ID) { mu.Lock(); changes++; mu.Unlock() }
			}

			if _, _, err := stores[0].Set(ctx, Change{ID: id, Yank: true, Reason: "x"}); !errors.Is(err, ErrNotPublished) {
				t.Fatalf("yank of an unpublished revision: %v", err)
			}
			zip := ziptest.Package(t, "aws", "2.3.1")
			if err := b.Public.WriteAll(ctx, storage.ZipKey(id), zip, nil); err != nil {
				t.Fatal(err)
			}
			for _, c := range []Change{{ID: id, Yank: true}, {ID: id, Yank: true, Reason: string(make([]byte, MaxReason+1))}} {
				if _, _, err := stores[0].Set(ctx, c); !errors.Is(err, ErrBadReason) {
					t.Fatalf("reason %d bytes: %v", len(c.Reason), err)
				}
			}
			if _, _, err := stores[0].Set(ctx, Change{ID: packageid.ID{Name: "Bad", Version: "1"}, Yank: true, Reason: "x"}); err == nil {
				t.Fatal("a bad id was accepted")
			}

			// Racing: each store flips the state several times at once.
			var wg sync.WaitGroup
			for i, s := range stores {
				for j := range 4 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if _, _, err := s.Set(ctx, Change{ID: id, Yank: j%2 == 0, Reason: fmt.Sprintf("store %d try %d", i, j), Token: "ops"}); err != nil {
							t.Error(err)
						}
					}()
				}
			}
			wg.Wait()
			hist, err := stores[1].History(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(hist) != changes || len(hist) == 0 {
				t.Fatalf("%d generations, %d reported changes", len(hist), changes)
			}
			for i, st := range hist {
				if st.Generation != i+1 {
					t.Fatalf("generation %d at position %d", st.Generation, i)
				}
				// Every change flips the state: no two yanks in a row.
				if st.Yanked == (i%2 == 1) {
					t.Fatalf("generation %d yanked=%v: changes do not alternate", st.Generation, st.Yanked)
				}
			}
			recs, err := log.All(ctx, audit.Query{Package: "aws", Version: "2.3.1"})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(hist) {
				t.Fatalf("%d audit records for %d changes", len(recs), len(hist))
			}

			// The final state, as the indexer sees it (the registry: see
			// registry.TestYanked).
			cur, err := stores[0].Current(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			hidden, err := stores[0].Hidden(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if hidden[id] != cur.Yanked || len(hidden) > 1 {
				t.Fatalf("hidden %v, current yanked=%v", hidden, cur.Yanked)
			}
		})
	}
}

// TestSetRepairsMissingRecord: a store that died between a yank and its
// audit record leaves the yank without record; yanking again writes it,
// once.
func TestSetRepairsMissingRecord(t *testing.T) {
	ctx := context.Background()
	b := backends(t)["file"](t)
	log := audit.New(b.Internal)
	id := packageid.ID{Name: "aws", Version: "1.0.0"}
	if err := b.Public.WriteAll(ctx, storage.ZipKey(id), []byte("zip"), nil); err != nil {
		t.Fatal(err)
	}
	// The crashed store: no audit log to write to.
	if _, changed, err := New(b, nil).Set(ctx, Change{ID: id, Yank: true, Reason: "broken", Token: "ops"}); err != nil || !changed {
		t.Fatalf("yank: %v %v", changed, err)
	}
	s := New(b, log)
	for range 2 {
		st, changed, err := s.Set(ctx, Change{ID: id, Yank: true, Reason: "broken again", Token: "ops2"})
		if err != nil || changed || st.Reason != "broken" || st.Token != "ops" {
			t.Fatalf("repeat yank: %+v %v %v", st, changed, err)
		}
	}
	recs, err := log.All(ctx, audit.Query{Event: audit.Yanked})
	if err != nil || len(recs) != 1 || recs[0].Reason != "broken" || recs[0].Token != "ops" {
		t.Fatalf("records after the repair: %+v %v", recs, err)
	}
}
