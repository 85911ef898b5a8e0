package mirror_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/client/mirror"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
)

func manifestSHA(t testing.TB, bundle string) string {
	t.Helper()
	es := tarEntries(t, bundle)
	s := sha256.Sum256(es[0].body)
	return hex.EncodeToString(s[:])
}

func importBundle(site *servertest.Store, key, op *sigtest.Key, bundle string, after *mirror.Summary) (*mirror.Summary, error) {
	return mirror.Import(context.Background(), mirror.ImportConfig{Bundle: bundle, To: site.Client, Keyring: key.Keyring, BundleKeyring: op.Keyring, Retry: fastRetry, After: after, ChainWait: 3 * time.Second})
}

// TestIncrementalChain: a chain of incremental bundles (mirror --since, a
// bundle or its extracted manifest), imported in order, ends with the
// same store as one full bundle; out of order or with a gap it is refused
// naming what is missing, and nothing of it is published.
func TestIncrementalChain(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	op := sigtest.NewKey(t, "operator")
	up, _ := storeUpstream(t, key, catalog)
	ctx := context.Background()
	dir := t.TempDir()
	incremental := func(name, since string, f mirror.Filters) (string, *mirror.Summary, *relay) {
		t.Helper()
		rl := newRelay(t, up.URL, nil)
		b := filepath.Join(dir, name)
		sum, err := mirror.Run(ctx, mirror.Config{From: rl.URL, Filters: f, Keyring: key.Keyring, Bundle: b, Since: since, SignKey: op.Signer, Retry: fastRetry})
		if err != nil || !sum.OK() {
			t.Fatalf("mirror %s --since %s: %v %+v", name, since, err, sum)
		}
		return b, sum, rl
	}

	// Day 1: the newest of each package; day 2: every version; day 3:
	// prereleases too, following day 2's extracted manifest.
	b1, _ := makeBundle(t, up, key, op, mirror.Filters{})
	b2, sum2, rl2 := incremental("day2.bundle", b1, mirror.Filters{AllVersions: true})
	if rl2.zipGets() != 2 || sum2.Present != 4 || sum2.Selected != 6 {
		t.Errorf("day 2: %d downloads, %d present of %d; want 2, 4 of 6", rl2.zipGets(), sum2.Present, sum2.Selected)
	}
	m2, _, _, err := mirror.ReadManifest(b2)
	if err != nil {
		t.Fatal(err)
	}
	if got := revisionIDs(m2); got != "alpha-1.0.0 beta-0.9.0" {
		t.Errorf("day 2 holds %s, want alpha-1.0.0 beta-0.9.0", got)
	}
	if m2.Follows == nil || m2.Follows.ManifestSHA256 != manifestSHA(t, b1) || len(m2.Follows.Requires) != 4 {
		t.Fatalf("day 2 follows %+v, want day 1's manifest %s and its 4 revisions", m2.Follows, manifestSHA(t, b1))
	}
	m2path := filepath.Join(dir, "day2-manifest.json")
	if err := os.WriteFile(m2path, tarEntries(t, b2)[0].body, 0o644); err != nil {
		t.Fatal(err)
	}
	b3, _, _ := incremental("day3.bundle", m2path, mirror.Filters{AllVersions: true, Prerelease: true})
	m3, _, _, err := mirror.ReadManifest(b3)
	if err != nil {
		t.Fatal(err)
	}
	if got := revisionIDs(m3); got != "alpha-1.2.0-beta1" || m3.Follows.ManifestSHA256 != manifestSHA(t, b2) || len(m3.Follows.Requires) != 6 {
		t.Errorf("day 3 holds %s following %+v", got, m3.Follows)
	}
	// A second run of day 3 downloads nothing and keeps the bundle.
	before, _ := os.ReadFile(b3)
	_, sum, rl := incremental("day3.bundle", m2path, mirror.Filters{AllVersions: true, Prerelease: true})
	if after, _ := os.ReadFile(b3); !sum.BundleUpToDate || rl.zipGets() != 0 || !bytes.Equal(before, after) {
		t.Errorf("day 3 again: up to date %v, %d downloads, rewritten %v", sum.BundleUpToDate, rl.zipGets(), !bytes.Equal(before, after))
	}
	full, _ := makeBundle(t, up, key, op, mirror.Filters{AllVersions: true, Prerelease: true})

	// The chain in order equals the full bundle.
	siteFull := servertest.Start(t, servertest.Options{Key: key})
	if s, err := importBundle(siteFull, key, op, full, nil); err != nil || !s.OK() || s.Transferred != len(catalog) {
		t.Fatalf("full import: %v %+v", err, s)
	}
	siteChain := servertest.Start(t, servertest.Options{Key: key})
	var after *mirror.Summary
	for _, b := range []string{b1, b2, b3} {
		s, err := importBundle(siteChain, key, op, b, after)
		if err != nil || !s.OK() {
			t.Fatalf("import %s: %v %+v", filepath.Base(b), err, s)
		}
		after = s
	}
	for _, r := range catalog {
		siteFull.WaitVisible(t, r.name, r.version)
		siteChain.WaitVisible(t, r.name, r.version)
		id := r.name + "-" + r.version
		for _, sig := range []bool{false, true} {
			if !bytes.Equal(storeFile(t, siteFull, id, sig), storeFile(t, siteChain, id, sig)) || !bytes.Equal(storeFile(t, siteChain, id, sig), storeFile(t, up, id, sig)) {
				t.Errorf("%s (signature %v) differs between the chain's store, the full bundle's and the upstream", id, sig)
			}
		}
	}
	for _, q := range []string{"", "?all=true&prerelease=true", "?kibana.version=8.5.0", "?category=security", "?type=input", "?package=beta&all=true"} {
		_, want := get(t, siteFull.URL+"/search"+q)
		if _, got := get(t, siteChain.URL+"/search"+q); !bytes.Equal(got, want) {
			t.Errorf("/search%s differs:\nchain %.300s\nfull  %.300s", q, got, want)
		}
	}
	// An older bundle again after a newer one publishes nothing.
	if s, err := importBundle(siteChain, key, op, b2, nil); err != nil || s.Transferred != 0 {
		t.Errorf("day 2 again: %v %+v", err, s)
	}

	// Out of order, with a gap, after the wrong bundle.
	for _, c := range []struct {
		name      string
		before    []string
		bundle    string
		afterLast bool // pass the summary of the last bundle imported before
		want      string
		absent    []string
	}{
		{name: "out of order", bundle: b2, want: "the store lacks 4 revision(s) of the bundles before it (alpha-1.1.0, awscloud-3.1.0, awslogs-2.0.0, beta-1.0.0)", absent: []string{"alpha-1.0.0", "beta-0.9.0"}},
		{name: "gap", before: []string{b1}, bundle: b3, want: "the store lacks 2 revision(s) of the bundles before it (alpha-1.0.0, beta-0.9.0)", absent: []string{"alpha-1.2.0-beta1"}},
		{name: "not after the bundle given before it", before: []string{b1}, bundle: b3, afterLast: true,
			want: "it follows the bundle whose manifest has sha256 " + manifestSHA(t, b2) + ", but the bundle imported before it has " + manifestSHA(t, b1), absent: []string{"alpha-1.2.0-beta1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			site := servertest.Start(t, servertest.Options{Key: key})
			var last *mirror.Summary
			for _, b := range c.before {
				s, err := importBundle(site, key, op, b, nil)
				if err != nil {
					t.Fatal(err)
				}
				last = s
			}
			var after *mirror.Summary
			if c.afterLast {
				after = last
			}
			_, err := importBundle(site, key, op, c.bundle, after)
			if err == nil || !errors.Is(err, mirror.ErrChain) || !errors.Is(err, mirror.ErrBundle) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("import: %v\nwant ErrChain containing %q", err, c.want)
			}
			noneOf(t, site, c.absent...)
		})
	}
}

func revisionIDs(m *mirror.Manifest) string {
	var out []string
	for _, e := range m.Packages {
		out = append(out, e.ID().String())
	}
	return strings.Join(out, " ")
}

// TestSinceRefusesGarbage: --since of a file that is neither a bundle nor a
// manifest is a clear error, before anything is downloaded.
func TestSinceRefusesGarbage(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	up, _ := storeUpstream(t, key, catalog[:1])
	rl := newRelay(t, up.URL, nil)
	junk := filepath.Join(t.TempDir(), "junk")
	if err := os.WriteFile(junk, []byte("not a bundle"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := mirror.Run(context.Background(), mirror.Config{From: rl.URL, Keyring: key.Keyring, Bundle: filepath.Join(t.TempDir(), "b"), Since: junk, Retry: fastRetry})
	if err == nil || !strings.Contains(err.Error(), "neither a bundle") || rl.zipGets() != 0 {
		t.Errorf("--since junk: %v, %d downloads", err, rl.zipGets())
	}
}
