package registry_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"pkgstore/internal/api"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/registry"
	"pkgstore/internal/server"
	"pkgstore/internal/testkit/eprdiff"
	"pkgstore/internal/testkit/processtest"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sharedtest"
)

// The stores the compatibility tests and benchmarks read are filled by the
// real publishing job over its HTTP API, so that what is checked against
// the contract is what a publisher's zip becomes (document, static files,
// signature, index), not what a test helper would write. Publishing takes
// seconds, so each store is built once per test binary and shared by every
// test that only reads it.

// sharedDir returns ../shared next to the module root, or skips the test.
func sharedDir(t testing.TB) string { return sharedtest.Dir(t) }

// TestMain stops the shared stores once every test and benchmark is done.
func TestMain(m *testing.M) { processtest.Main(m) }

// testCacheTimes is EPR's test setting: every Cache-Control is max-age=1,
// which the header assertions rely on.
var testCacheTimes = registry.CacheTimes{Index: time.Second, Search: time.Second, Categories: time.Second, CatchAll: time.Second}

// startStore runs a store on memory buckets with a generated trusted key,
// the test cache times and EPR's default of accepting unknown parameters.
func startStore(tb testing.TB) *servertest.Store {
	tb.Helper()
	return servertest.Start(tb, servertest.Options{Memory: true, Configure: func(c *server.Config) {
		c.Registry.CacheTimes = testCacheTimes
		c.Registry.AllowUnknownQueryParams = true
	}})
}

// candidate is one zip offered to the publishing job.
type candidate struct {
	source string // where the zip comes from, for messages
	id     packageid.ID
	zip    []byte
}

// refusal is a candidate the job rejected.
type refusal struct {
	candidate
	reasons []api.Reason
}

// fixture is a store filled through the publishing job.
type fixture struct {
	store     *servertest.Store
	published []candidate // in publish order; their zips are what is served
	refused   []refusal   // in publish order
}

// publishPhase publishes cands as legacy, signed with the store's key. The
// candidates of one phase are distinct revisions, so they are submitted a
// few at a time; phases run one after the other, which is what makes the
// first of two equal NAME-VERSION the one published. A candidate whose
// revision an earlier phase published must be refused as a duplicate; any
// other refusal fails tb (no EPR test package and no v1 revision breaks the
// store's structural rules).
func (f *fixture) publishPhase(tb testing.TB, cands []candidate) {
	tb.Helper()
	done := map[packageid.ID]bool{}
	for _, c := range f.published {
		done[c.id] = true
	}
	inPhase := map[packageid.ID]string{}
	for _, c := range cands {
		if other, ok := inPhase[c.id]; ok {
			tb.Fatalf("%s and %s are both %s in one phase: which one wins would be a race", other, c.source, c.id)
		}
		inPhase[c.id] = c.source
	}
	zips := make([]servertest.Zip, len(cands))
	for i, c := range cands {
		zips[i] = servertest.Zip{ID: c.id, Data: c.zip}
	}
	subs := f.store.PublishAll(tb, zips)
	for i, c := range cands {
		sub := subs[i]
		if !done[c.id] {
			if sub.Status != api.StatusPublished {
				tb.Fatalf("%s: %s %v, want published", c.source, sub.Status, sub.Reasons)
			}
			f.published = append(f.published, c)
			continue
		}
		// First path wins: the later copy is refused, whatever its bytes.
		want := api.Reason{Check: "duplicate", File: c.id.ZipName(),
			Message: c.id.String() + " is already published; published packages never change, publish a new version instead"}
		if sub.Status != api.StatusRejected || len(sub.Reasons) != 1 || sub.Reasons[0] != want {
			tb.Fatalf("%s: %s %v, want rejected with %v", c.source, sub.Status, sub.Reasons, want)
		}
		f.refused = append(f.refused, refusal{c, sub.Reasons})
	}
}

// waitVisible waits until every published revision is in the registry's
// index.
func (f *fixture) waitVisible(tb testing.TB) {
	tb.Helper()
	for _, c := range f.published {
		f.store.WaitVisible(tb, c.id.Name, c.id.Version)
	}
}

// buildV1Folders zips every NAME/VERSION folder under dir (lexical order)
// with the project's builder, as `pkgstore build --v1` would.
func buildV1Folders(tb testing.TB, dir string) []candidate {
	tb.Helper()
	var out []candidate
	for _, b := range eprdiff.BuildV1Folders(tb, dir) {
		rel, _ := filepath.Rel(filepath.Dir(dir), b.Source)
		out = append(out, candidate{source: filepath.ToSlash(rel), id: b.ID, zip: b.Zip})
	}
	return out
}

var (
	eprOnce sync.Once
	eprFix  *fixture
)

// eprStore returns the store holding every package of
// ../shared/testdata/epr-packages/, published in EPR's precedence order:
// the zips of local-storage/ as they are, then the folders of
// second_package_path/, then those of package/.
func eprStore(t testing.TB) *fixture {
	t.Helper()
	root := filepath.Join(sharedDir(t), "testdata", "epr-packages")
	eprOnce.Do(func() {
		tb := processtest.Wrap(t)
		start := time.Now()
		f := &fixture{store: startStore(tb)}
		zips, err := filepath.Glob(filepath.Join(root, "local-storage", "*.zip"))
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(zips)
		var local []candidate
		for _, z := range zips {
			data, err := os.ReadFile(z)
			if err != nil {
				t.Fatal(err)
			}
			id, err := packageid.ParseZipName(filepath.Base(z))
			if err != nil {
				t.Fatal(err)
			}
			local = append(local, candidate{source: "local-storage/" + filepath.Base(z), id: id, zip: data})
		}
		f.publishPhase(tb, local)
		f.publishPhase(tb, buildV1Folders(tb, filepath.Join(root, "second_package_path")))
		f.publishPhase(tb, buildV1Folders(tb, filepath.Join(root, "package")))
		f.waitVisible(tb)
		t.Logf("EPR store: %d revisions published, %d refused, in %v", len(f.published), len(f.refused), time.Since(start).Round(time.Millisecond))
		eprFix = f
	})
	if eprFix == nil {
		t.Fatal("the EPR store could not be built (see the first test that asked for it)")
	}
	return eprFix
}

var (
	v1Once sync.Once
	v1Fix  *fixture
)

// v1Store returns the store holding the v1 sample's packages/NAME/VERSION/
// folders, each zipped with the project's builder and published as legacy.
func v1Store(t testing.TB) *fixture {
	t.Helper()
	sharedtest.Archive(t, sharedtest.V1Sample) // skips when absent
	v1Once.Do(func() {
		tb := processtest.Wrap(t)
		start := time.Now()
		f := &fixture{store: startStore(tb)}
		cands := buildV1Folders(tb, filepath.Join(sharedtest.UnpackV1(tb), "packages"))
		if len(cands) != sharedtest.V1Revisions {
			t.Fatalf("%d v1 revisions, want %d", len(cands), sharedtest.V1Revisions)
		}
		f.publishPhase(tb, cands)
		f.waitVisible(tb)
		t.Logf("v1 store: %d revisions published in %v", len(f.published), time.Since(start).Round(time.Millisecond))
		v1Fix = f
	})
	if v1Fix == nil {
		t.Fatal("the v1 store could not be built (see the first test that asked for it)")
	}
	return v1Fix
}

// response is an answer of a store over loopback.
type response struct {
	Code   int
	Body   *bytes.Buffer
	header http.Header
}

func (r *response) Header() http.Header { return r.header }

// noRedirects sees 301s instead of following them, and leaves the body as
// the server sent it.
var noRedirects = &http.Client{
	Transport:     &http.Transport{DisableCompression: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// get sends method url to the server at base. url is sent as written (no
// cleaning), so that the server's own path handling is what is tested.
func get(t testing.TB, base, method, url string, hdr map[string]string) *response {
	t.Helper()
	req, err := http.NewRequest(method, base+url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return &response{Code: resp.StatusCode, Body: bytes.NewBuffer(body), header: resp.Header}
}

// TestEPRStorePublishing checks how the EPR test packages went through the
// job: every revision of EPR's three package paths published once, the
// later copies of example-1.0.1 and multiversion-1.1.0 refused as
// duplicates, and the first copy the one served, with a signature by the
// test's key.
func TestEPRStorePublishing(t *testing.T) {
	f := eprStore(t)
	// 2 zips + 1 folder + 44 folders; package/example/1.0.1 repeats
	// local-storage's zip and package/multiversion/1.1.0 the second path.
	if len(f.published) != 45 || len(f.refused) != 2 {
		t.Errorf("%d published, %d refused; want 45 and 2", len(f.published), len(f.refused))
	}
	var refused []string
	for _, r := range f.refused {
		refused = append(refused, r.source)
	}
	if want := "package/example/1.0.1 package/multiversion/1.1.0"; strings.Join(refused, " ") != want {
		t.Errorf("refused %v, want %s", refused, want)
	}
	first := map[packageid.ID]candidate{}
	for _, c := range f.published {
		first[c.id] = c
		w := get(t, f.store.URL, "GET", "/epr/"+c.id.Name+"/"+c.id.ZipName(), nil)
		sig := get(t, f.store.URL, "GET", "/epr/"+c.id.Name+"/"+c.id.ZipName()+".sig", nil)
		if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), c.zip) {
			t.Errorf("%s: served zip (%d, %d bytes) is not the published one (%d bytes)", c.source, w.Code, w.Body.Len(), len(c.zip))
			continue
		}
		if _, err := f.store.Key.Keyring.Verify(bytes.NewReader(c.zip), bytes.NewReader(sig.Body.Bytes())); err != nil {
			t.Errorf("%s: served signature does not verify: %v", c.source, err)
		}
	}
	for _, r := range f.refused {
		kept, ok := first[r.id]
		if !ok {
			t.Errorf("%s refused but %s was never published", r.source, r.id)
			continue
		}
		if bytes.Equal(r.zip, kept.zip) {
			t.Fatalf("%s and %s are the same bytes: the test proves nothing", r.source, kept.source)
		}
		w := get(t, f.store.URL, "GET", "/epr/"+r.id.Name+"/"+r.id.ZipName(), nil)
		if bytes.Equal(w.Body.Bytes(), r.zip) {
			t.Errorf("%s: the refused bytes are served", r.source)
		}
		if !bytes.Equal(w.Body.Bytes(), kept.zip) {
			t.Errorf("%s: served zip is not %s's", r.id, kept.source)
		}
	}
}
