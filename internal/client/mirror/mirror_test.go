package mirror_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/client/mirror"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/testkit/eprtest"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
)

func allIDs() []string {
	var out []string
	for _, r := range catalog {
		out = append(out, r.name+"-"+r.version)
	}
	return out
}

// TestSelectEqualsUpstreamSearch: the selection is what the upstream's own
// /search answers for the same filters, from the reference EPR and from
// another pkgstore.
func TestSelectEqualsUpstreamSearch(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	ref, _ := referenceUpstream(t, key, catalog)
	store, _ := storeUpstream(t, key, catalog)
	cases := []struct {
		name  string
		f     mirror.Filters
		query string // the upstream query the selection must equal
		globs []string
		want  []string // sanity: the answer is not empty when expected
	}{
		{"latest of everything", mirror.Filters{}, "", nil, []string{"alpha-1.1.0", "awscloud-3.1.0", "awslogs-2.0.0", "beta-1.0.0"}},
		{"all versions", mirror.Filters{AllVersions: true}, "all=true", nil, nil},
		{"prerelease", mirror.Filters{Prerelease: true, AllVersions: true}, "prerelease=true&all=true", nil, nil},
		{"kibana 8.5", mirror.Filters{KibanaVersion: "8.5.0"}, "kibana.version=8.5.0", nil, []string{"alpha-1.0.0", "awscloud-3.1.0", "awslogs-2.0.0", "beta-0.9.0"}},
		{"kibana 7.17 all", mirror.Filters{KibanaVersion: "7.17.3", AllVersions: true}, "kibana.version=7.17.3&all=true", nil, []string{"beta-0.9.0"}},
		{"category", mirror.Filters{Category: "observability", AllVersions: true}, "category=observability&all=true", nil, nil},
		{"type input", mirror.Filters{Type: "input"}, "type=input", nil, []string{"awslogs-2.0.0"}},
		{"one package", mirror.Filters{Packages: []string{"alpha"}, AllVersions: true}, "package=alpha&all=true", nil, nil},
		{"glob", mirror.Filters{Packages: []string{"aws*"}}, "", []string{"aws*"}, []string{"awscloud-3.1.0", "awslogs-2.0.0"}},
		{"two names", mirror.Filters{Packages: []string{"beta", "awslogs"}, AllVersions: true}, "all=true", []string{"beta", "awslogs"}, []string{"awslogs-2.0.0", "beta-0.9.0", "beta-1.0.0"}},
		{"spec range", mirror.Filters{SpecMin: "2.0", SpecMax: "3.0", AllVersions: true}, "spec.min=2.0&spec.max=3.0&all=true", nil, nil},
		{"spec too old", mirror.Filters{SpecMax: "1.0"}, "spec.max=1.0", nil, nil},
		{"agent", mirror.Filters{AgentVersion: "8.12.0", KibanaVersion: "8.12.0"}, "agent.version=8.12.0&kibana.version=8.12.0", nil, nil},
		{"capabilities", mirror.Filters{Capabilities: []string{"apm", "observability"}, AllVersions: true}, "capabilities=apm,observability&all=true", nil, nil},
	}
	for _, up := range []struct{ name, url string }{{"reference EPR", ref}, {"pkgstore", store.URL}} {
		for _, c := range cases {
			t.Run(up.name+"/"+c.name, func(t *testing.T) {
				revs, _, err := mirror.Select(context.Background(), http.DefaultClient, up.url, c.f)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, r := range revs {
					got = append(got, r.ID().String())
					if r.SignaturePath == "" {
						t.Errorf("%s: no signature_path", r.ID())
					}
				}
				code, body := get(t, up.url+"/search?"+c.query)
				if code != 200 {
					t.Fatalf("/search?%s: %d", c.query, code)
				}
				var want []string
				for _, id := range ids(t, body) {
					keep := len(c.globs) == 0
					for _, g := range c.globs {
						name := id[:strings.LastIndex(id, "-")]
						if strings.Contains(id, "-beta1") {
							name = "alpha"
						}
						if ok, _ := path.Match(g, name); ok {
							keep = true
						}
					}
					if keep {
						want = append(want, id)
					}
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("selection %v, upstream /search?%s %v", got, c.query, want)
				}
				if c.want != nil && !slices.Equal(got, c.want) {
					t.Errorf("selection %v, want %v", got, c.want)
				}
			})
		}
	}
}

func TestSelectLatestN(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	store, _ := storeUpstream(t, key, catalog)
	revs, q, err := mirror.Select(context.Background(), http.DefaultClient, store.URL, mirror.Filters{Latest: 2, Prerelease: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range revs {
		got = append(got, r.ID().String())
	}
	want := []string{"alpha-1.1.0", "alpha-1.2.0-beta1", "awscloud-3.1.0", "awslogs-2.0.0", "beta-0.9.0", "beta-1.0.0"}
	if !slices.Equal(got, want) || !strings.Contains(q, "all=true") {
		t.Errorf("latest 2: %v (query %s), want %v", got, q, want)
	}
}

// TestMirrorToStore: from the reference EPR and from a pkgstore into a
// store, exact bytes; a second run transfers nothing.
func TestMirrorToStore(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	ref, refZips := referenceUpstream(t, key, catalog)
	store, storeZips := storeUpstream(t, key, catalog)
	// An EPR in proxy mode with nothing of its own: its artifacts are 301s
	// to the EPR behind it.
	proxied := eprtest.Start(t, eprtest.Options{Args: []string{"-feature-proxy-mode", "-proxy-to", ref, "-proxy-allow-insecure"}})
	for _, up := range []struct {
		name string
		url  string
		zips map[string][]byte
	}{{"reference EPR", ref, refZips}, {"pkgstore", store.URL, storeZips}, {"EPR in proxy mode", proxied.URL, refZips}} {
		t.Run(up.name, func(t *testing.T) {
			rl := newRelay(t, up.url, nil)
			target := servertest.Start(t, servertest.Options{Key: key})
			cfg := mirror.Config{From: rl.URL, Filters: mirror.Filters{AllVersions: true, Prerelease: true}, Keyring: key.Keyring, To: target.Client, Retry: fastRetry}
			sum, err := mirror.Run(context.Background(), cfg)
			if err != nil || !sum.OK() {
				t.Fatalf("mirror: %v %+v", err, sum)
			}
			if sum.Transferred != len(catalog) || sum.Present != 0 {
				t.Fatalf("first run: %d transferred, %d present; want %d, 0", sum.Transferred, sum.Present, len(catalog))
			}
			for id, z := range up.zips {
				name := id[:strings.Index(id, "-")]
				target.WaitVisible(t, name, id[len(name)+1:])
				_, got := get(t, target.URL+"/epr/"+name+"/"+id+".zip")
				if !bytes.Equal(got, z) {
					t.Errorf("%s: the store's zip differs from the upstream's", id)
				}
				_, upSig := get(t, up.url+"/epr/"+name+"/"+id+".zip.sig")
				_, gotSig := get(t, target.URL+"/epr/"+name+"/"+id+".zip.sig")
				if !bytes.Equal(gotSig, upSig) {
					t.Errorf("%s: the store's signature differs from the upstream's", id)
				}
			}
			_, upSearch := get(t, up.url+"/search?all=true&prerelease=true")
			_, gotSearch := get(t, target.URL+"/search?all=true&prerelease=true")
			if !slices.Equal(ids(t, gotSearch), ids(t, upSearch)) {
				t.Errorf("target /search %v, upstream %v", ids(t, gotSearch), ids(t, upSearch))
			}
			before := rl.zipGets()
			sum, err = mirror.Run(context.Background(), cfg)
			if err != nil || sum.Transferred != 0 || sum.Present != len(catalog) {
				t.Fatalf("second run: %v, %d transferred, %d present", err, sum.Transferred, sum.Present)
			}
			if n := rl.zipGets() - before; n != 0 {
				t.Errorf("second run downloaded %d zips, want 0", n)
			}
		})
	}
}

// TestStoreLacksUpstreamKey: a store that does not trust the upstream's key
// refuses, and the mirror says so and stops.
func TestStoreLacksUpstreamKey(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	store, _ := storeUpstream(t, key, catalog[:2])
	target := servertest.Start(t, servertest.Options{}) // its own key only
	sum, err := mirror.Run(context.Background(), mirror.Config{From: store.URL, Keyring: key.Keyring, To: target.Client, Workers: 1, Retry: fastRetry})
	if !errors.Is(err, mirror.ErrUntrustedByStore) || !errors.Is(err, mirror.ErrFatal) {
		t.Fatalf("err %v, want ErrUntrustedByStore", err)
	}
	if !strings.Contains(err.Error(), key.Fingerprint) || !strings.Contains(err.Error(), "--keyring") {
		t.Errorf("message %q names neither the key nor the fix", err)
	}
	if sum.Transferred != 0 {
		t.Errorf("%d transferred", sum.Transferred)
	}
	noneOf(t, target, "alpha-1.1.0")
}

// TestFaults: each misbehaviour of the upstream (or of the keys) is refused
// with a clear message and nothing of it is written, into a store or a
// bundle; transient ones are retried.
func TestFaults(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	stranger := sigtest.NewKey(t, "stranger")
	store, _ := storeUpstream(t, key, catalog[:2])
	victim := "alpha-1.1.0"
	cases := []struct {
		name    string
		fault   fault
		times   int // how many requests misbehave (0: all)
		sigFile bool
		keyring *signature.Keyring
		want    string // in the failure; "" means success after retries
	}{
		{"5xx then fine", status503, 2, false, nil, ""},
		{"5xx always", status503, 0, false, nil, "503"},
		{"timeouts always", hang, 0, false, nil, "no complete answer within 300ms"},
		{"timeout then fine", hang, 1, false, nil, ""},
		{"truncated download", truncate, 0, false, nil, "unexpected EOF"},
		{"tampered zip", flipZipByte, 0, false, nil, "alpha-1.1.0.zip.sig: signature does not match the file's bytes"},
		{"tampered signature", flipSigByte, 0, true, nil, "alpha-1.1.0.zip.sig: signature is not a valid OpenPGP signature"},
		{"key outside the keyring", pass, 0, false, stranger.Keyring, "not in the trusted keyring"},
	}
	for _, c := range cases {
		for _, mode := range []string{"store", "bundle"} {
			t.Run(c.name+"/"+mode, func(t *testing.T) {
				file := "/epr/alpha/" + victim + ".zip"
				if c.sigFile {
					file += ".sig"
				}
				rl := newRelay(t, store.URL, func(p string, nth int) fault {
					if p == file && (c.times == 0 || nth <= c.times) {
						return c.fault
					}
					return pass
				})
				kr := key.Keyring
				if c.keyring != nil {
					kr = c.keyring
				}
				cfg := mirror.Config{From: rl.URL, Filters: mirror.Filters{AllVersions: true}, Keyring: kr, Retry: fastRetry, Timeout: 300 * time.Millisecond}
				var target *servertest.Store
				if mode == "store" {
					target = servertest.Start(t, servertest.Options{Key: key})
					cfg.To = target.Client
				} else {
					cfg.Bundle = filepath.Join(t.TempDir(), "site.bundle")
				}
				sum, err := mirror.Run(context.Background(), cfg)
				if err != nil {
					t.Fatalf("run stopped: %v", err)
				}
				if c.want == "" {
					if !sum.OK() || sum.Transferred != 2 {
						t.Fatalf("want success after retries: %+v", sum)
					}
					return
				}
				var reasons string
				for _, f := range sum.Failed {
					if f.ID.String() == victim {
						reasons = strings.Join(f.Reasons, "; ")
					}
				}
				t.Logf("reasons: %s", reasons)
				if !strings.Contains(reasons, c.want) {
					t.Errorf("failure of %s: %q, want it to mention %q (%+v)", victim, reasons, c.want, sum.Failed)
				}
				if target != nil {
					noneOf(t, target, victim)
					return
				}
				if _, err := os.Stat(cfg.Bundle); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("bundle written although %s failed: %v", victim, err)
				}
				if _, err := os.Stat(filepath.Join(mirror.WorkDir(cfg.Bundle), "packages", victim+".zip")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s kept in the work folder: %v", victim, err)
				}
			})
		}
	}
}
