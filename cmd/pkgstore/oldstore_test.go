package main

// A store written by pkgstore as it was before the ten wings (commit
// 382f4d9, testdata/store-382f4d9: acme 1.0.0, 1.1.0 and 2.0.0-beta1,
// a__0x41__b 0.3.0 (a name gocloud's file driver escaped on disk), zeta
// 0.1.0 and 0.2.0 (0.2.0 yanked), hello 1.0.0 from examples/hello, all
// published through the real job and signed) must be served unchanged by
// today's code: every answer of golden.json, recorded by 382f4d9's
// `pkgstore serve --read-only` over that store, status, headers and body.
// testdata/store-382f4d9/README.md says how it was made and what varies.
//
// -update-old-store-golden rewrites golden.json from this tree: only to
// record an intended change of an answer, never to make the test pass.

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var updateOldGolden = flag.Bool("update-old-store-golden", false, "rewrite golden.json from the answers of this tree")

// oldRequest is one golden request.
type oldRequest struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"` // path and raw query, sent as is
	Headers map[string]string `json:"request_headers,omitempty"`
}

// oldAnswer is what the store answered, normalised.
type oldAnswer struct {
	Status int `json:"status"`
	// Headers are every response header except droppedHeaders and
	// presentOnly, each with its values (header lines) in order, normalised
	// by normalizeOldHeader. Lines are not joined: today Cache-Control is sent
	// as two lines ("max-age=600" and "public").
	Headers map[string][]string `json:"headers"`
	// Present lists headers whose value varies between runs (presence is
	// still part of the contract).
	Present []string `json:"headers_present,omitempty"`
	// BodyLen and BodySHA256 are of the raw body as sent on the wire.
	BodyLen    int    `json:"body_len"`
	BodySHA256 string `json:"body_sha256"`
	// Body is the raw body: text when it is UTF-8, else BodyBase64.
	Body       *string `json:"body,omitempty"`
	BodyBase64 string  `json:"body_base64,omitempty"`
	// DecodedSHA256 and DecodedBody are of the body after removing its
	// Content-Encoding (gzip only), when there is one: compressors may
	// legitimately produce other bytes, the decoded body may not change.
	DecodedSHA256 string  `json:"decoded_sha256,omitempty"`
	DecodedBody   *string `json:"decoded_body,omitempty"`
}

// oldGolden is one request with its oldAnswerOf.
type oldGolden struct {
	Name string `json:"name"`
	oldRequest
	Answer oldAnswer `json:"answer"`
}

// droppedHeaders vary between two runs over the same store, or after its
// files are touched (see testdata/store-382f4d9/README.md): Date is the clock, Last-Modified the
// bucket object's mtime (kept as "present").
var droppedHeaders = map[string]bool{"Date": true}

// presentOnly are compared by presence only.
var presentOnly = map[string]bool{"Last-Modified": true}

// blobETag is the validator of artifacts and static files,
// "<size hex>-<mtime unix nanos hex>": the mtime half varies with the file's
// time, so it is replaced by "*".
var blobETag = regexp.MustCompile(`^"([0-9a-f]+)-[0-9a-f]{8,}"$`)

func normalizeOldHeader(req oldRequest, name, value string) string {
	if name == "Etag" || name == "ETag" {
		if isBlobPath(req.Path) {
			if m := blobETag.FindStringSubmatch(value); m != nil {
				return `"` + m[1] + `-*"`
			}
		}
	}
	return value
}

// isBlobPath: /epr/... artifacts and /package/N/V/<file> static files.
func isBlobPath(p string) bool {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if strings.HasPrefix(p, "/epr/") {
		return true
	}
	if strings.HasPrefix(p, "/package/") {
		segs := strings.Split(strings.TrimPrefix(p, "/package/"), "/")
		return len(segs) > 3 || len(segs) == 3 && segs[2] != ""
	}
	return false
}

// oldRequestHost is the Host header of every request.
const oldRequestHost = "epr.fixture.test:8080"

func gzipHeader() map[string]string { return map[string]string{"Accept-Encoding": "gzip"} }

// oldStoreRequests are every read route of the registry and the catalog over
// the fixture's packages: acme 1.0.0, 1.1.0, 2.0.0-beta1 (prerelease),
// a__0x41__b 0.3.0 (a name gocloud's file driver escapes on disk),
// zeta 0.1.0 and 0.2.0 (0.2.0 yanked), hello 1.0.0 (examples/hello).
var oldStoreRequests = []struct {
	name string
	oldRequest
}{
	{"health", oldRequest{Method: "GET", Path: "/health"}},
	{"root", oldRequest{Method: "GET", Path: "/"}},
	{"index.json", oldRequest{Method: "GET", Path: "/index.json"}},
	{"favicon", oldRequest{Method: "GET", Path: "/favicon.ico"}},
	{"search", oldRequest{Method: "GET", Path: "/search"}},
	{"search gzip", oldRequest{Method: "GET", Path: "/search", Headers: gzipHeader()}},
	{"search package", oldRequest{Method: "GET", Path: "/search?package=acme"}},
	{"search package all", oldRequest{Method: "GET", Path: "/search?package=acme&all=true"}},
	{"search all", oldRequest{Method: "GET", Path: "/search?all=true"}},
	{"search prerelease", oldRequest{Method: "GET", Path: "/search?prerelease=true"}},
	{"search package prerelease all", oldRequest{Method: "GET", Path: "/search?package=acme&prerelease=true&all=true"}},
	{"search kibana 7", oldRequest{Method: "GET", Path: "/search?kibana.version=7.17.5"}},
	{"search kibana 9", oldRequest{Method: "GET", Path: "/search?kibana.version=9.1.0&all=true"}},
	{"search category", oldRequest{Method: "GET", Path: "/search?category=security"}},
	{"search yanked package all", oldRequest{Method: "GET", Path: "/search?package=zeta&all=true"}},
	{"search escaped name", oldRequest{Method: "GET", Path: "/search?package=a__0x41__b"}},
	{"search bad kibana", oldRequest{Method: "GET", Path: "/search?kibana.version=notaversion"}},
	{"search if-none-match", oldRequest{Method: "GET", Path: "/search?package=acme", Headers: map[string]string{"Accept-Encoding": "gzip", "If-None-Match": "*"}}},
	{"categories", oldRequest{Method: "GET", Path: "/categories"}},
	{"categories prerelease", oldRequest{Method: "GET", Path: "/categories?prerelease=true"}},
	{"categories kibana 7", oldRequest{Method: "GET", Path: "/categories?kibana.version=7.17.0"}},
	{"categories policy templates", oldRequest{Method: "GET", Path: "/categories?include_policy_templates=true"}},
	{"package acme 1.0.0", oldRequest{Method: "GET", Path: "/package/acme/1.0.0/"}},
	{"package acme 1.1.0 gzip", oldRequest{Method: "GET", Path: "/package/acme/1.1.0/", Headers: gzipHeader()}},
	{"package acme prerelease", oldRequest{Method: "GET", Path: "/package/acme/2.0.0-beta1/"}},
	{"package no slash", oldRequest{Method: "GET", Path: "/package/acme/1.1.0"}},
	{"package escaped name", oldRequest{Method: "GET", Path: "/package/a__0x41__b/0.3.0/"}},
	{"package hello", oldRequest{Method: "GET", Path: "/package/hello/1.0.0/"}},
	{"package yanked", oldRequest{Method: "GET", Path: "/package/zeta/0.2.0/"}},
	{"package unknown version", oldRequest{Method: "GET", Path: "/package/acme/9.9.9/"}},
	{"static readme", oldRequest{Method: "GET", Path: "/package/acme/1.0.0/docs/README.md"}},
	{"static svg icon", oldRequest{Method: "GET", Path: "/package/acme/1.0.0/img/icon.svg"}},
	{"static png", oldRequest{Method: "GET", Path: "/package/acme/1.1.0/img/screenshot.png"}},
	{"static kibana saved object", oldRequest{Method: "GET", Path: "/package/acme/1.0.0/kibana/dashboard/acme-overview.json"}},
	{"static manifest", oldRequest{Method: "GET", Path: "/package/acme/2.0.0-beta1/manifest.yml"}},
	{"static escaped name, escaped file name", oldRequest{Method: "GET", Path: "/package/a__0x41__b/0.3.0/img/%5BLogs%5D%20Screen%20shot.png"}},
	{"static yanked readme", oldRequest{Method: "GET", Path: "/package/zeta/0.2.0/docs/README.md"}},
	{"static hello data stream", oldRequest{Method: "GET", Path: "/package/hello/1.0.0/data_stream/log/sample_event.json"}},
	{"static missing", oldRequest{Method: "GET", Path: "/package/acme/1.0.0/docs/missing.md"}},
	{"static trailing slash", oldRequest{Method: "GET", Path: "/package/acme/1.0.0/docs/"}},
	{"zip", oldRequest{Method: "GET", Path: "/epr/acme/acme-1.0.0.zip"}},
	{"zip sig", oldRequest{Method: "GET", Path: "/epr/acme/acme-1.0.0.zip.sig"}},
	{"zip escaped name", oldRequest{Method: "GET", Path: "/epr/anything/a__0x41__b-0.3.0.zip"}},
	{"zip yanked", oldRequest{Method: "GET", Path: "/epr/zeta/zeta-0.2.0.zip"}},
	{"zip hello", oldRequest{Method: "GET", Path: "/epr/hello/hello-1.0.0.zip"}},
	{"zip missing", oldRequest{Method: "GET", Path: "/epr/acme/acme-9.9.9.zip"}},
	{"zip range", oldRequest{Method: "GET", Path: "/epr/acme/acme-1.1.0.zip", Headers: map[string]string{"Range": "bytes=0-15"}}},
	{"HEAD zip", oldRequest{Method: "HEAD", Path: "/epr/acme/acme-1.1.0.zip"}},
	{"HEAD package", oldRequest{Method: "HEAD", Path: "/package/acme/1.1.0/"}},
	{"HEAD search", oldRequest{Method: "HEAD", Path: "/search?package=acme"}},
	{"HEAD static", oldRequest{Method: "HEAD", Path: "/package/hello/1.0.0/docs/README.md"}},
	{"unknown path", oldRequest{Method: "GET", Path: "/nope"}},
	{"unclean path", oldRequest{Method: "GET", Path: "//search"}},
	{"search trailing slash", oldRequest{Method: "GET", Path: "/search/"}},
	{"revision info (governance API, not served read-only)", oldRequest{Method: "GET", Path: "/api/v1/packages/acme/1.0.0"}},
	{"audit (governance API, not served read-only)", oldRequest{Method: "GET", Path: "/api/v1/audit"}},
	{"ui home", oldRequest{Method: "GET", Path: "/ui/"}},
	{"ui home query", oldRequest{Method: "GET", Path: "/ui/?q=acme"}},
	{"ui no slash", oldRequest{Method: "GET", Path: "/ui"}},
	{"ui latest", oldRequest{Method: "GET", Path: "/ui/package/acme/"}},
	{"ui package", oldRequest{Method: "GET", Path: "/ui/package/acme/1.1.0/"}},
	{"ui package with yanked version", oldRequest{Method: "GET", Path: "/ui/package/zeta/0.1.0/"}},
	{"ui yanked package", oldRequest{Method: "GET", Path: "/ui/package/zeta/0.2.0/"}},
	{"ui escaped name", oldRequest{Method: "GET", Path: "/ui/package/a__0x41__b/0.3.0/"}},
	{"ui hello", oldRequest{Method: "GET", Path: "/ui/package/hello/1.0.0/"}},
	{"ui stylesheet", oldRequest{Method: "GET", Path: "/ui/assets/style.css"}},
	{"ui missing", oldRequest{Method: "GET", Path: "/ui/nope"}},
}

func TestStoreWrittenBeforeTheWings(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	// Files get a new time, as after a git checkout or a restore.
	if err := copyStoreTree(filepath.Join("testdata", "store-382f4d9"), data, time.Now().Add(37*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(data, "golden.json")); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, nil, "--read-only", "--data", data)
	base := "http://" + p.Addr
	waitHealthy(t, base)
	got := captureOld(t, base)

	goldenPath := filepath.Join("testdata", "store-382f4d9", "golden.json")
	if *updateOldGolden {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d answers to %s", len(got), goldenPath)
		return
	}
	b, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	var want []oldGolden
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Fatalf("%d golden answers, %d requests", len(want), len(got))
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.Method != g.Method || w.Path != g.Path {
			t.Fatalf("request %d: golden is %s %s, sent %s %s", i, w.Method, w.Path, g.Method, g.Path)
		}
		for _, d := range diffOldAnswer(w.Answer, g.Answer) {
			t.Errorf("%s (%s %s): %s", w.Name, w.Method, w.Path, d)
		}
	}
}

// captureOld sends every golden request to the store at base (Host:
// oldRequestHost), in order, one at a time.
func captureOld(t testing.TB, base string) []oldGolden {
	t.Helper()
	c := &http.Client{
		// Raw answers: no transparent gzip, no redirect following.
		Transport:     &http.Transport{DisableCompression: true, Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
	var out []oldGolden
	for _, r := range oldStoreRequests {
		req, err := http.NewRequest(r.Method, base+r.Path, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Pages of the catalog embed the Host (kibana.yml's registryUrl
		// line): send a fixed one rather than the ephemeral port.
		req.Host = oldRequestHost
		// The path must go on the wire exactly as written.
		if got := req.URL.RequestURI(); got != r.Path {
			t.Fatalf("%s would be sent as %s", r.Path, got)
		}
		for k, v := range r.Headers {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", r.Method, r.Path, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s %s: %v", r.Method, r.Path, err)
		}
		out = append(out, oldGolden{Name: r.name, oldRequest: r.oldRequest, Answer: oldAnswerOf(t, r.oldRequest, resp, body)})
	}
	return out
}

func oldAnswerOf(t testing.TB, req oldRequest, resp *http.Response, body []byte) oldAnswer {
	a := oldAnswer{Status: resp.StatusCode, Headers: map[string][]string{}, BodyLen: len(body)}
	for name, vals := range resp.Header {
		switch {
		case droppedHeaders[name]:
		case presentOnly[name]:
			a.Present = append(a.Present, name)
		default:
			for _, v := range vals {
				a.Headers[name] = append(a.Headers[name], normalizeOldHeader(req, name, v))
			}
		}
	}
	sort.Strings(a.Present)
	sum := sha256.Sum256(body)
	a.BodySHA256 = hex.EncodeToString(sum[:])
	enc := resp.Header.Get("Content-Encoding")
	if enc == "" && utf8.Valid(body) {
		s := string(body)
		a.Body = &s
	} else {
		a.BodyBase64 = base64.StdEncoding.EncodeToString(body)
	}
	if enc == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: gzip: %v", req.Path, err)
		}
		dec, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: gzip: %v", req.Path, err)
		}
		sum := sha256.Sum256(dec)
		a.DecodedSHA256 = hex.EncodeToString(sum[:])
		s := string(dec)
		a.DecodedBody = &s
	}
	return a
}

// diffOldAnswer lists the differences between the golden oldAnswerOf w and g. A
// compressed body may differ byte for byte (another compressor build) as
// long as its decoded body does not; its Content-Length then follows.
func diffOldAnswer(w, g oldAnswer) []string {
	var d []string
	if w.Status != g.Status {
		d = append(d, fmt.Sprintf("status %d, golden %d", g.Status, w.Status))
	}
	compressed := w.DecodedSHA256 != ""
	names := map[string]bool{}
	for k := range w.Headers {
		names[k] = true
	}
	for k := range g.Headers {
		names[k] = true
	}
	for k := range names {
		if compressed && k == "Content-Length" {
			continue
		}
		wv, wok := w.Headers[k]
		gv, gok := g.Headers[k]
		if wok != gok || strings.Join(wv, "\n") != strings.Join(gv, "\n") {
			d = append(d, fmt.Sprintf("header %s: %q (present %v), golden %q (present %v)", k, gv, gok, wv, wok))
		}
	}
	if strings.Join(w.Present, ",") != strings.Join(g.Present, ",") {
		d = append(d, fmt.Sprintf("varying headers present %v, golden %v", g.Present, w.Present))
	}
	if compressed {
		if w.DecodedSHA256 != g.DecodedSHA256 {
			d = append(d, fmt.Sprintf("decoded body differs:\n got: %s\nwant: %s", shortBody(g.DecodedBody), shortBody(w.DecodedBody)))
		}
	} else if w.BodySHA256 != g.BodySHA256 {
		d = append(d, fmt.Sprintf("body differs (len %d, golden %d):\n got: %s\nwant: %s", g.BodyLen, w.BodyLen, shortBody(g.Body), shortBody(w.Body)))
	}
	sort.Strings(d)
	return d
}

func shortBody(s *string) string {
	if s == nil {
		return "(binary)"
	}
	if len(*s) > 2000 {
		return (*s)[:2000] + "…"
	}
	return *s
}

// copyStoreTree copies the regular files of src to dst (folders created as
// needed, so empty folders of src are not reproduced, as after a git
// checkout) and sets every file's times to mtime.
func copyStoreTree(src, dst string, mtime time.Time) error {
	src, err := filepath.EvalSymlinks(src) // WalkDir does not follow a symlinked root
	if err != nil {
		return err
	}
	n := 0
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(out, b, 0o644); err != nil {
			return err
		}
		n++
		return os.Chtimes(out, mtime, mtime)
	})
	if err == nil && n == 0 {
		err = fmt.Errorf("no files under %s", src)
	}
	return err
}
