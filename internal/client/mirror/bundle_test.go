package mirror_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pkgstore/internal/client/mirror"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
)

func keyring(t testing.TB, keys ...*sigtest.Key) *signature.Keyring {
	t.Helper()
	var paths []string
	for _, k := range keys {
		paths = append(paths, k.PublicPath)
	}
	kr, err := signature.LoadKeyring(paths...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// makeBundle mirrors every version of catalog from a pkgstore upstream into
// a bundle signed by op.
func makeBundle(t testing.TB, up *servertest.Store, key, op *sigtest.Key, f mirror.Filters) (string, *relay) {
	t.Helper()
	rl := newRelay(t, up.URL, nil)
	b := filepath.Join(t.TempDir(), "site.bundle")
	sum, err := mirror.Run(context.Background(), mirror.Config{From: rl.URL, Filters: f, Keyring: key.Keyring, Bundle: b, SignKey: op.Signer, Retry: fastRetry, Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }})
	if err != nil || !sum.OK() {
		t.Fatalf("mirror to bundle: %v %+v", err, sum)
	}
	return b, rl
}

// TestBundleRoundTrip: connected side to bundle, bundle into an air-gapped
// store that then answers Fleet's queries exactly as the upstream does.
func TestBundleRoundTrip(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	op := sigtest.NewKey(t, "operator")
	up, zips := storeUpstream(t, key, catalog)
	all := mirror.Filters{AllVersions: true, Prerelease: true}
	b, rl := makeBundle(t, up, key, op, all)

	// The bundle's layout and manifest.
	es := tarEntries(t, b)
	if es[0].name != mirror.ManifestName || es[1].name != mirror.ManifestSigName {
		t.Fatalf("bundle starts with %s, %s", es[0].name, es[1].name)
	}
	var m mirror.Manifest
	if err := json.Unmarshal(es[0].body, &m); err != nil {
		t.Fatal(err)
	}
	if m.Source != rl.URL || !m.Created.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) || !m.Selection.AllVersions || len(m.Packages) != len(catalog) {
		t.Errorf("manifest: %+v", m)
	}
	var zipSum int64
	for _, e := range m.Packages {
		z := zips[e.ID().String()]
		s := sha256.Sum256(z)
		if e.Size != int64(len(z)) || e.SHA256 != hexs(s[:]) || e.Signer != key.Fingerprint {
			t.Errorf("%s: size %d sha %s signer %s, want %d %x %s", e.ID(), e.Size, e.SHA256, e.Signer, len(z), s, key.Fingerprint)
		}
		zipSum += e.Size
	}
	if _, err := op.Keyring.Verify(bytes.NewReader(es[0].body), bytes.NewReader(es[1].body)); err != nil {
		t.Errorf("manifest signature: %v", err)
	}
	if _, err := os.Stat(mirror.WorkDir(b)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("work folder left behind: %v", err)
	}
	fi, _ := os.Stat(b)
	t.Logf("bundle %d bytes for %d bytes of zips (%.1f%%)", fi.Size(), zipSum, 100*float64(fi.Size()-zipSum)/float64(zipSum))

	// A second run transfers nothing and leaves the bundle as it is.
	before, _ := os.ReadFile(b)
	gets := rl.zipGets()
	sum, err := mirror.Run(context.Background(), mirror.Config{From: rl.URL, Filters: all, Keyring: key.Keyring, Bundle: b, SignKey: op.Signer, Retry: fastRetry})
	if err != nil || !sum.BundleUpToDate || sum.Transferred != 0 || rl.zipGets() != gets {
		t.Fatalf("second run: %v up to date %v, %d transferred, %d downloads", err, sum.BundleUpToDate, sum.Transferred, rl.zipGets()-gets)
	}
	if after, _ := os.ReadFile(b); !bytes.Equal(before, after) {
		t.Error("second run rewrote the bundle")
	}

	// Inside: import into a fresh store that trusts the upstream's key.
	site := servertest.Start(t, servertest.Options{Key: key})
	isum, err := mirror.Import(context.Background(), mirror.ImportConfig{Bundle: b, To: site.Client, Keyring: key.Keyring, BundleKeyring: op.Keyring, Retry: fastRetry})
	if err != nil || !isum.OK() || isum.Transferred != len(catalog) {
		t.Fatalf("import: %v %+v", err, isum)
	}
	for _, r := range catalog {
		site.WaitVisible(t, r.name, r.version)
	}
	for _, q := range []string{"", "?all=true&prerelease=true", "?kibana.version=8.5.0", "?category=security", "?type=input", "?package=beta&all=true"} {
		_, want := get(t, up.URL+"/search"+q)
		_, got := get(t, site.URL+"/search"+q)
		if !bytes.Equal(got, want) {
			t.Errorf("/search%s differs:\nsite     %.300s\nupstream %.300s", q, got, want)
		}
	}
	_, want := get(t, up.URL+"/categories")
	if _, got := get(t, site.URL+"/categories"); !bytes.Equal(got, want) {
		t.Errorf("/categories differs: %s vs %s", got, want)
	}
	for _, r := range catalog[:2] {
		p := "/package/" + r.name + "/" + r.version + "/"
		_, want := get(t, up.URL+p)
		if _, got := get(t, site.URL+p); !bytes.Equal(got, want) {
			t.Errorf("%s differs", p)
		}
	}
	// Importing again publishes nothing.
	isum, err = mirror.Import(context.Background(), mirror.ImportConfig{Bundle: b, To: site.Client, Keyring: key.Keyring, BundleKeyring: op.Keyring, Retry: fastRetry})
	if err != nil || isum.Transferred != 0 || isum.Present != len(catalog) {
		t.Fatalf("second import: %v %+v", err, isum)
	}
}

func hexs(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// TestBundleGrows: a bundle made with --latest 1, run again with every
// version, downloads only the versions it lacked.
func TestBundleGrows(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	op := sigtest.NewKey(t, "operator")
	up, _ := storeUpstream(t, key, catalog)
	b, rl := makeBundle(t, up, key, op, mirror.Filters{})
	first := rl.zipGets()
	if first != 4 {
		t.Fatalf("latest of 4 packages: %d downloads", first)
	}
	sum, err := mirror.Run(context.Background(), mirror.Config{From: rl.URL, Filters: mirror.Filters{AllVersions: true}, Keyring: key.Keyring, Bundle: b, Retry: fastRetry})
	if err != nil || !sum.OK() {
		t.Fatalf("%v %+v", err, sum)
	}
	if n := rl.zipGets() - first; n != 2 {
		t.Errorf("growing to all versions downloaded %d zips, want 2 (alpha-1.0.0, beta-0.9.0)", n)
	}
	m, _, sig, err := mirror.ReadManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Packages) != 6 || sig != nil {
		t.Errorf("grown bundle: %d revisions, signed %v; want 6, unsigned (no --sign-key this time)", len(m.Packages), sig != nil)
	}
	if _, err := mirror.Unpack(context.Background(), b, t.TempDir(), mirror.Keys{Bundle: op.Keyring, Packages: key.Keyring}); err == nil || !strings.Contains(err.Error(), "not signed") {
		t.Errorf("unsigned bundle with a keyring: %v", err)
	}
}

// TestImportRefusesBadBundles: a missing, extra, altered or repeated file,
// a forged manifest: each is refused naming the file, and nothing is
// published.
func TestImportRefusesBadBundles(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	op := sigtest.NewKey(t, "operator")
	stranger := sigtest.NewKey(t, "stranger")
	up, _ := storeUpstream(t, key, catalog)
	good, _ := makeBundle(t, up, key, op, mirror.Filters{AllVersions: true})
	es := tarEntries(t, good)
	find := func(name string) int {
		i := slices.IndexFunc(es, func(e tarEntry) bool { return e.name == name })
		if i < 0 {
			t.Fatalf("%s not in the bundle", name)
		}
		return i
	}
	zipName := "packages/beta-1.0.0.zip"
	cases := []struct {
		name string
		edit func([]tarEntry) []tarEntry
		keys mirror.Keys
		want []string
	}{
		{"missing zip", func(es []tarEntry) []tarEntry { return slices.Delete(es, find(zipName), find(zipName)+1) }, mirror.Keys{},
			[]string{zipName + ": missing from the bundle"}},
		{"missing signature", func(es []tarEntry) []tarEntry {
			return slices.Delete(es, find(zipName+".sig"), find(zipName+".sig")+1)
		}, mirror.Keys{}, []string{zipName + ".sig: missing from the bundle"}},
		{"extra file", func(es []tarEntry) []tarEntry {
			return append(es, tarEntry{name: "packages/evil-1.0.0.zip", body: []byte("PK")})
		}, mirror.Keys{}, []string{"packages/evil-1.0.0.zip: extra file"}},
		{"path outside", func(es []tarEntry) []tarEntry {
			return append(es, tarEntry{name: "../../etc/passwd", body: []byte("x")})
		}, mirror.Keys{}, []string{"../../etc/passwd: extra file"}},
		{"altered zip", func(es []tarEntry) []tarEntry {
			i := find(zipName)
			es[i].body = bytes.Clone(es[i].body)
			es[i].body[100] ^= 1
			return es
		}, mirror.Keys{}, []string{zipName + ": altered"}},
		{"repeated file", func(es []tarEntry) []tarEntry { return append(es, es[find(zipName)]) }, mirror.Keys{},
			[]string{zipName + ": appears twice"}},
		{"altered manifest", func(es []tarEntry) []tarEntry {
			es[0].body = bytes.Replace(es[0].body, []byte(`"version": "1.0.0"`), []byte(`"version": "1.0.1"`), 1)
			return es
		}, mirror.Keys{Bundle: op.Keyring, Packages: key.Keyring}, []string{"manifest.json.sig: signature does not match"}},
		{"manifest signed by a stranger", nil, mirror.Keys{Bundle: stranger.Keyring, Packages: key.Keyring}, []string{"manifest.json.sig: signature was made by a key that is not in the trusted keyring", "--bundle-keyring"}},
		// Issue 21 item 9: the manifest was accepted when signed by any
		// key of the package keyring. A package key (here the upstream's
		// own) never vouches for a bundle.
		{"manifest signed by a package key", func(es []tarEntry) []tarEntry {
			es[1].body = key.Sign(t, es[0].body)
			return es
		}, mirror.Keys{Bundle: op.Keyring, Packages: key.Keyring}, []string{"manifest.json.sig: signature was made by a key that is not in the trusted keyring"}},
		{"manifest without signature", func(es []tarEntry) []tarEntry { return slices.Delete(es, 1, 2) }, mirror.Keys{Bundle: op.Keyring, Packages: key.Keyring},
			[]string{"manifest.json.sig: missing"}},
		{"package key outside the keyring", nil, mirror.Keys{Bundle: op.Keyring, Packages: op.Keyring},
			[]string{"packages/alpha-1.0.0.zip: verification failed: alpha-1.0.0.zip.sig: signature was made by a key that is not in the trusted keyring"}},
		{"not a bundle", func([]tarEntry) []tarEntry { return []tarEntry{{name: "hello.txt", body: []byte("hi")}} }, mirror.Keys{},
			[]string{`first file is "hello.txt", want manifest.json`}},
	}
	site := servertest.Start(t, servertest.Options{Key: key})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := filepath.Join(t.TempDir(), "bad.bundle")
			edited := slices.Clone(es)
			if c.edit != nil {
				edited = c.edit(edited)
			}
			writeTar(t, b, edited)
			sum, err := mirror.Import(context.Background(), mirror.ImportConfig{Bundle: b, To: site.Client, Keyring: c.keys.Packages, BundleKeyring: c.keys.Bundle, Retry: fastRetry})
			if !errors.Is(err, mirror.ErrBundle) {
				t.Fatalf("import: %v %+v, want the bundle refused", err, sum)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("refusal %q does not say %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), "nothing published") {
				t.Errorf("refusal %q does not say nothing was published", err)
			}
			noneOf(t, site, allIDs()...)
		})
	}
}

// TestImportPackageKeyringAloneRefused is the attack of issue 21 item 9:
// a bundle whose manifest is signed by a package key (here the upstream's
// own, which any of its packages' signers could use) was accepted by
// import --keyring. The package keyring alone is now refused before the
// bundle is read, naming --bundle-keyring; with the operator's key as the
// bundle keyring, the re-signed manifest is refused and the real one
// imports.
func TestImportPackageKeyringAloneRefused(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	op := sigtest.NewKey(t, "operator")
	up, _ := storeUpstream(t, key, catalog[:2])
	good, _ := makeBundle(t, up, key, op, mirror.Filters{AllVersions: true})
	es := tarEntries(t, good)
	es[1].body = key.Sign(t, es[0].body) // manifest.json.sig by a package key
	forged := filepath.Join(t.TempDir(), "forged.bundle")
	writeTar(t, forged, es)
	site := servertest.Start(t, servertest.Options{Key: key})

	sum, err := mirror.Import(context.Background(), mirror.ImportConfig{Bundle: forged, To: site.Client, Keyring: key.Keyring, Retry: fastRetry})
	if !errors.Is(err, mirror.ErrNoBundleKeyring) || !strings.Contains(err.Error(), "--bundle-keyring") {
		t.Fatalf("import with the package keyring alone: %v %+v, want ErrNoBundleKeyring", err, sum)
	}
	noneOf(t, site, allIDs()...)
	_, err = mirror.Import(context.Background(), mirror.ImportConfig{Bundle: forged, To: site.Client, Keyring: key.Keyring, BundleKeyring: op.Keyring, Retry: fastRetry})
	if !errors.Is(err, mirror.ErrBundle) || !strings.Contains(err.Error(), "manifest.json.sig: signature was made by a key that is not in the trusted keyring") {
		t.Fatalf("manifest signed by a package key: %v", err)
	}
	noneOf(t, site, allIDs()...)
	sum, err = mirror.Import(context.Background(), mirror.ImportConfig{Bundle: good, To: site.Client, Keyring: key.Keyring, BundleKeyring: op.Keyring, Retry: fastRetry})
	if err != nil || !sum.OK() || sum.Transferred != 2 {
		t.Fatalf("import with both keyrings: %v %+v", err, sum)
	}
}

// TestDamagedWorkFolder: a verified download damaged in the work folder
// before the bundle is written is caught, named, and downloaded again by
// the next run.
func TestDamagedWorkFolder(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	up, _ := storeUpstream(t, key, catalog[:3])
	var failing atomic.Bool
	failing.Store(true)
	rl := newRelay(t, up.URL, func(p string, _ int) fault {
		if failing.Load() && p == "/epr/alpha/alpha-1.1.0.zip" {
			return status503
		}
		return pass
	})
	b := filepath.Join(t.TempDir(), "site.bundle")
	cfg := mirror.Config{From: rl.URL, Filters: mirror.Filters{AllVersions: true}, Keyring: key.Keyring, Bundle: b, Retry: fastRetry}
	if sum, err := mirror.Run(context.Background(), cfg); err != nil || sum.OK() {
		t.Fatalf("first run should fail on alpha-1.1.0: %v %+v", err, sum)
	}
	damaged := filepath.Join(mirror.WorkDir(b), "packages", "alpha-1.0.0.zip")
	z, err := os.ReadFile(damaged)
	if err != nil {
		t.Fatal(err)
	}
	z[len(z)/2] ^= 1
	if err := os.WriteFile(damaged, z, 0o644); err != nil {
		t.Fatal(err)
	}
	failing.Store(false)
	_, err = mirror.Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "packages/alpha-1.0.0.zip changed in the work folder") {
		t.Fatalf("second run: %v, want the damaged file named", err)
	}
	if _, err := os.Stat(b); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a bundle was written from a damaged work folder")
	}
	gets := rl.zipGets()
	sum, err := mirror.Run(context.Background(), cfg)
	if err != nil || !sum.OK() || sum.Transferred != 1 || rl.zipGets()-gets != 1 {
		t.Fatalf("third run: %v %+v, %d downloads; want alpha-1.0.0 downloaded again", err, sum, rl.zipGets()-gets)
	}
	if _, err := mirror.Unpack(context.Background(), b, t.TempDir(), mirror.Keys{}); err != nil {
		t.Fatalf("bundle after the repair: %v", err)
	}
}

// TestImportIntoStoreLackingTheKey: the store refuses the upstream's
// signatures; import says why and stops.
func TestImportIntoStoreLackingTheKey(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	op := sigtest.NewKey(t, "operator")
	up, _ := storeUpstream(t, key, catalog[:2])
	b, _ := makeBundle(t, up, key, op, mirror.Filters{AllVersions: true})
	site := servertest.Start(t, servertest.Options{}) // trusts only its own key
	_, err := mirror.Import(context.Background(), mirror.ImportConfig{Bundle: b, To: site.Client, Keyring: key.Keyring, BundleKeyring: op.Keyring, Workers: 1, Retry: fastRetry})
	if !errors.Is(err, mirror.ErrUntrustedByStore) || !strings.Contains(err.Error(), key.Fingerprint) {
		t.Fatalf("import into a store without the upstream's key: %v", err)
	}
	noneOf(t, site, "alpha-1.0.0", "alpha-1.1.0")
}
