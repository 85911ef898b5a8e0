package server_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"pkgstore/internal/client/syncv1"
	"pkgstore/internal/testkit/sharedtest"
)

// TestIndependentLogChecker publishes the v1 sample (269 revisions of
// production packages) in two halves into a store keeping a transparency
// log, and has the independent checker (translog_independent_test.go:
// x/mod/sumdb/tlog and note only, over HTTP) verify every revision's
// lookup, its inclusion in the signed tree head, the served zip's
// SHA-256, and the consistency of the head taken after the first half
// with the head taken after the second.
func TestIndependentLogChecker(t *testing.T) {
	if testing.Short() {
		t.Skip("publishes 269 revisions")
	}
	src := sharedtest.UnpackV1(t)
	names, err := os.ReadDir(filepath.Join(src, "packages"))
	if err != nil {
		t.Fatal(err)
	}
	// The second half of the packages moves to a second checkout.
	second := t.TempDir()
	if err := os.MkdirAll(filepath.Join(second, "packages"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names[len(names)/2:] {
		if err := os.Rename(filepath.Join(src, "packages", n.Name()), filepath.Join(second, "packages", n.Name())); err != nil {
			t.Fatal(err)
		}
	}
	keyFile, vkey := logKeys(t)
	s := startLogged(t, filepath.Join(t.TempDir(), "data"), nil, keyFile, false)
	var revisions [][2]string
	publish := func(dir string) {
		dirs, err := syncv1.Revisions(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dirs {
			version := filepath.Base(d)
			revisions = append(revisions, [2]string{filepath.Base(filepath.Dir(d)), version})
		}
		sum, err := syncv1.Run(context.Background(), syncv1.Config{Source: dir, Client: s.Client, Key: s.Key.Signer, Workers: 4})
		if err != nil || !sum.OK() || sum.Published != len(dirs) {
			t.Fatalf("publish %s: %+v %v", dir, sum, err)
		}
	}
	publish(src)
	tree1, head1 := indepLatest(t, s.URL, vkey)
	publish(second)
	tree2, head2 := indepLatest(t, s.URL, vkey)
	if len(revisions) != sharedtest.V1Revisions || tree2.N != int64(len(revisions)) || tree1.N >= tree2.N {
		t.Fatalf("%d revisions, trees of %d then %d records", len(revisions), tree1.N, tree2.N)
	}
	sort.Slice(revisions, func(i, j int) bool { return revisions[i][0]+revisions[i][1] < revisions[j][0]+revisions[j][1] })
	// The registry serves a zip once the index lists it (the indexer runs
	// after the publications): wait for that, not for the log.
	for _, r := range revisions {
		s.WaitVisible(t, r[0], r[1])
	}
	for _, r := range revisions {
		indepCheckRevision(t, s.URL, vkey, r[0], r[1])
	}
	indepCheckConsistency(t, s.URL, vkey, head1, head2)
}
