package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"pkgstore/internal/testkit/storagetest"
	"testing"

	"pkgstore/internal/pkg/packageid"
)

func TestTopClaim(t *testing.T) {
	id := packageid.ID{Name: "foo", Version: "1.0.0"}
	other := packageid.ID{Name: "foo", Version: "1.0.00"} // shares the prefix "foo-1.0.0"
	for _, tc := range []struct {
		name    string
		gens    []int // generations present
		wantGen int
	}{
		{"none", nil, 0},
		{"one", []int{1}, 1},
		{"taken over twice", []int{1, 2, 3}, 3},
		{"one generation lost to a power cut", []int{1, 3}, 3},
		{"a later one past two missing is not seen", []int{1, 4}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			b := storagetest.OpenData(t, t.TempDir())
			p, err := New(Config{Buckets: b})
			if err != nil {
				t.Fatal(err)
			}
			put := func(id packageid.ID, gen int, sub string) {
				rec, _ := json.Marshal(claimRecord{Submission: sub})
				if err := b.Internal.CreateIfAbsent(ctx, claimGen(id, gen), bytes.NewReader(rec), nil); err != nil {
					t.Fatal(err)
				}
			}
			for _, g := range tc.gens {
				put(id, g, "sub-"+string(rune('0'+g)))
			}
			put(other, 7, "other")
			gen, holder, err := p.topClaim(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			wantHolder := ""
			if tc.wantGen > 0 {
				wantHolder = "sub-" + string(rune('0'+tc.wantGen))
			}
			if gen != tc.wantGen || holder != wantHolder {
				t.Fatalf("topClaim = %d %q, want %d %q", gen, holder, tc.wantGen, wantHolder)
			}
		})
	}
}
