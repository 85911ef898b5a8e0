package prodcorpus

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/storage"
)

// TestGenerateIsReproducible: the same seed gives the same zips byte for
// byte, every NAME-VERSION once, the count asked, over the packages asked,
// with a long tail of versions per package; another seed differs.
func TestGenerateIsReproducible(t *testing.T) {
	const n, pkgs = 600, 40
	a := Generate(t, 7, n, pkgs)
	b := Generate(t, 7, n, pkgs)
	c := Generate(t, 8, n, pkgs)
	if len(a) != n || len(b) != n {
		t.Fatalf("got %d and %d revisions, want %d", len(a), len(b), n)
	}
	seen := map[packageid.ID]bool{}
	per := map[string]int{}
	for i := range a {
		if a[i].ID != b[i].ID || !bytes.Equal(a[i].Zip, b[i].Zip) {
			t.Fatalf("revision %d differs between two runs of seed 7: %s, %s", i, a[i].ID, b[i].ID)
		}
		if seen[a[i].ID] {
			t.Fatalf("%s generated twice", a[i].ID)
		}
		seen[a[i].ID] = true
		per[a[i].ID.Name]++
	}
	if len(per) != pkgs {
		t.Errorf("%d packages, want %d", len(per), pkgs)
	}
	most := 0
	for _, k := range per {
		most = max(most, k)
	}
	if most < 3*n/pkgs {
		t.Errorf("largest package has %d versions: no long tail (mean %d)", most, n/pkgs)
	}
	same := 0
	for i := range min(len(a), len(c)) {
		if a[i].ID == c[i].ID {
			same++
		}
	}
	if same == len(a) {
		t.Error("seeds 7 and 8 gave the same revisions")
	}
}

// TestStore publishes the production-size corpus into its cached store
// (minutes; only with PRODCORPUS_STORE=1, docs/benchmarks.md) and checks
// that the index holds every revision.
func TestStore(t *testing.T) {
	if os.Getenv("PRODCORPUS_STORE") == "" {
		t.Skip("set PRODCORPUS_STORE=1 to publish the 10,775-revision corpus (minutes)")
	}
	data := Store(t, 1, Revisions)
	b, err := storage.Open(context.Background(), storage.Config{DataDir: data, MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	zips, err := b.Public.ListAll(context.Background(), &storage.ListOptions{Prefix: storage.PackagesPrefix})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range zips {
		if strings.HasSuffix(o.Key, ".zip") {
			n++
		}
	}
	if n != Revisions {
		t.Errorf("%d zips published, want %d", n, Revisions)
	}
}
