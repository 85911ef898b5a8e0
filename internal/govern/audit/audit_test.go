package audit

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/storagetest"
)

// buckets returns internal buckets of every backend: a folder, and the
// cloud emulators.
func buckets(t *testing.T) map[string]func(t *testing.T) *storage.Bucket {
	out := map[string]func(t *testing.T) *storage.Bucket{
		"file": func(t *testing.T) *storage.Bucket {
			b, err := storage.OpenDir(filepath.Join(t.TempDir(), "internal"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			return b
		},
	}
	for _, be := range storagetest.Backends {
		out[be.Name] = func(t *testing.T) *storage.Bucket {
			return storagetest.Open(t, be.Start(t).NewBucket(t))
		}
	}
	return out
}

func TestLog(t *testing.T) {
	for name, open := range buckets(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			b := open(t)
			// Two logs on one bucket: two processes appending at once.
			logs := []*Log{New(b), New(b)}
			day1 := time.Date(2026, 11, 30, 23, 59, 0, 0, time.UTC)
			day2 := day1.Add(2 * time.Minute) // the next day
			var wg sync.WaitGroup
			const n = 20
			errs := make(chan error, 2*n)
			for i := 0; i < n; i++ {
				for j, l := range logs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						at := day1
						if i%2 == 1 {
							at = day2
						}
						_, err := l.Append(ctx, Record{Event: Yanked, Time: at.Add(time.Duration(i) * time.Millisecond), Token: fmt.Sprintf("tok%d", j), Package: "aws", Version: fmt.Sprintf("1.0.%d", i), Reason: "broken"})
						errs <- err
					}()
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			// A submission's events, written once however often retried,
			// and listed in the order they happen.
			sub := NewID(day2.Add(time.Second))
			for range 3 {
				for _, ev := range []Event{Published, Received} {
					if err := logs[0].Put(ctx, Record{ID: sub, Event: ev, Package: "cisco", Version: "2.3.1", Token: "ci", SHA256: "abc", Fingerprint: "FPR"}); err != nil {
						t.Fatal(err)
					}
				}
			}
			all, err := logs[1].All(ctx, Query{})
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != 2*n+2 {
				t.Fatalf("%d records, want %d", len(all), 2*n+2)
			}
			for i := 1; i < len(all); i++ {
				if all[i].ID < all[i-1].ID {
					t.Fatalf("records out of order at %d: %s after %s", i, all[i].ID, all[i-1].ID)
				}
			}
			if last := all[len(all)-2:]; last[0].Event != Received || last[1].Event != Published {
				t.Fatalf("submission events in order %s, %s; want received, published", last[0].Event, last[1].Event)
			}

			tests := []struct {
				name string
				q    Query
				want int
			}{
				{"package", Query{Package: "cisco"}, 2},
				{"package and version", Query{Package: "aws", Version: "1.0.3"}, 2},
				{"token", Query{Token: "tok1"}, n},
				{"event", Query{Event: Published}, 1},
				{"since", Query{Since: day2}, n + 2},
				{"until", Query{Until: day2}, n},
				{"since and until", Query{Since: day1, Until: day1.Add(time.Minute)}, n},
				{"allow", Query{Allow: func(p string) bool { return p == "cisco" }}, 2},
				{"nothing", Query{Package: "nope"}, 0},
			}
			for _, tt := range tests {
				got, err := logs[0].All(ctx, tt.q)
				if err != nil {
					t.Fatalf("%s: %v", tt.name, err)
				}
				if len(got) != tt.want {
					t.Errorf("%s: %d records, want %d", tt.name, len(got), tt.want)
				}
			}
			// Pages: every record once, in order.
			var paged []Record
			q := Query{Limit: 7}
			pages := 0
			for {
				p, err := logs[0].Query(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if len(p.Records) > 7 {
					t.Fatalf("page of %d records, limit 7", len(p.Records))
				}
				paged = append(paged, p.Records...)
				if p.Next == "" {
					break
				}
				q.Cursor = p.Next
			}
			if pages != (2*n+2+6)/7 || len(paged) != len(all) {
				t.Fatalf("%d pages, %d records; want %d pages, %d records", pages, len(paged), (2*n+2+6)/7, len(all))
			}
			for i := range paged {
				if paged[i].ID != all[i].ID || paged[i].Event != all[i].Event {
					t.Fatalf("page record %d is %s %s, want %s %s", i, paged[i].ID, paged[i].Event, all[i].ID, all[i].Event)
				}
			}
			if _, err := logs[0].Query(ctx, Query{Cursor: "bm9wZQ"}); !errors.Is(err, ErrBadCursor) {
				t.Fatalf("bad cursor: %v", err)
			}
		})
	}
}

func TestKeyRefusesUnsafeFields(t *testing.T) {
	id := NewID(time.Now())
	for _, rec := range []Record{
		{ID: id, Event: Published, Package: "a~b"},
		{ID: id, Event: Published, Token: "../x"},
		{ID: id, Event: "deleted"},
		{ID: "nope", Event: Published},
	} {
		if _, err := Key(rec); err == nil {
			t.Errorf("Key(%+v) accepted", rec)
		}
	}
}
