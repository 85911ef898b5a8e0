package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"pkgstore/internal/storage"
)

// BenchmarkQuery answers "who published aws 2.3.1" over a log of 20,000
// records spread over 100 days, on a file bucket: one listing per day,
// one record read.
func BenchmarkQuery(b *testing.B) {
	ctx := context.Background()
	bucket, err := storage.OpenDir(filepath.Join(b.TempDir(), "internal"))
	if err != nil {
		b.Fatal(err)
	}
	defer bucket.Close()
	start := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	const n = 20000
	for i := range n {
		at := start.Add(time.Duration(i) * (100 * 24 * time.Hour / n))
		rec := Record{ID: NewID(at), Event: Received, Time: at, Token: "ci", Package: fmt.Sprintf("pkg%d", i%500), Version: fmt.Sprintf("1.%d.0", i/500)}
		if i == n/2 {
			rec.Event, rec.Package, rec.Version = Published, "aws", "2.3.1"
		}
		key, err := Key(rec)
		if err != nil {
			b.Fatal(err)
		}
		data, _ := json.Marshal(rec)
		// Plain writes: the setup need not be crash-safe.
		if err := bucket.WriteAll(ctx, key, data, nil); err != nil {
			b.Fatal(err)
		}
	}
	l := New(bucket)
	for _, bc := range []struct {
		name string
		q    Query
	}{
		{"package-version", Query{Package: "aws", Version: "2.3.1", Event: Published}},
		{"package-version-last-week", Query{Package: "aws", Version: "2.3.1", Since: start.Add(45 * 24 * time.Hour), Until: start.Add(52 * 24 * time.Hour)}},
		{"first-page-of-all", Query{Limit: 100}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				p, err := l.Query(ctx, bc.q)
				if err != nil || len(p.Records) == 0 {
					b.Fatalf("%d records, %v", len(p.Records), err)
				}
			}
		})
	}
}
