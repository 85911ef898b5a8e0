package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"pkgstore/internal/api"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/client"
	"pkgstore/internal/pkg/archive"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/server"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/ziptest"
)

// searchIDs returns name-version of every /search result for query.
func searchIDs(t testing.TB, s *servertest.Store, query string) []string {
	t.Helper()
	code, body := s.Get(t, "/search"+query)
	if code != http.StatusOK {
		t.Fatalf("/search%s: %d %s", query, code, body)
	}
	var res []struct{ Name, Version string }
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("/search%s: %v: %s", query, err, body)
	}
	var out []string
	for _, r := range res {
		out = append(out, r.Name+"-"+r.Version)
	}
	return out
}

// publicKeys lists the public bucket's keys under NAME-VERSION.
func publicKeys(t testing.TB, b *storage.Bucket, id string) []string {
	t.Helper()
	var keys []string
	for _, prefix := range []string{storage.PackagesPrefix + id + ".", storage.StaticPrefix + id + "/"} {
		objs, err := b.ListAll(context.Background(), &storage.ListOptions{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		for _, obj := range objs {
			keys = append(keys, obj.Key)
		}
	}
	return keys
}

func TestPublishEndToEnd(t *testing.T) {
	for _, backend := range []string{"file", "mem"} {
		t.Run(backend, func(t *testing.T) {
			s := servertest.Start(t, servertest.Options{Memory: backend == "mem"})
			data := ziptest.Package(t, "e2e", "1.2.3")
			sub := s.Publish(t, "e2e-1.2.3.zip", data, client.Options{Legacy: true})
			if sub.Status != api.StatusPublished {
				t.Fatalf("status %s, reasons %v", sub.Status, sub.Reasons)
			}
			if sub.Signer == nil || sub.Signer.Fingerprint != s.Key.Fingerprint {
				t.Errorf("signer %+v, want %s", sub.Signer, s.Key.Fingerprint)
			}
			s.WaitVisible(t, "e2e", "1.2.3")
			if got := searchIDs(t, s, ""); strings.Join(got, ",") != "e2e-1.2.3" {
				t.Fatalf("/search = %v", got)
			}
			code, body := s.Get(t, "/epr/e2e/e2e-1.2.3.zip")
			if code != 200 || !bytes.Equal(body, data) {
				t.Fatalf("zip: %d, identical=%v", code, bytes.Equal(body, data))
			}
			code, body = s.Get(t, "/epr/e2e/e2e-1.2.3.zip.sig")
			if code != 200 || !bytes.HasPrefix(body, []byte("-----BEGIN PGP SIGNATURE-----")) {
				t.Fatalf("sig: %d %q", code, body)
			}
			if _, err := s.Key.Keyring.Verify(bytes.NewReader(data), bytes.NewReader(body)); err != nil {
				t.Fatalf("served signature does not verify: %v", err)
			}
			var doc map[string]any
			code, body = s.Get(t, "/package/e2e/1.2.3/")
			if code != 200 || json.Unmarshal(body, &doc) != nil {
				t.Fatalf("package doc: %d %s", code, body)
			}
			if doc["signature_path"] != "/epr/e2e/e2e-1.2.3.zip.sig" || doc["download"] != "/epr/e2e/e2e-1.2.3.zip" {
				t.Errorf("doc paths: %v %v", doc["signature_path"], doc["download"])
			}
			// Every file of the package is served byte-identical.
			for _, e := range ziptest.PackageEntries("e2e", "1.2.3") {
				rel, ok := strings.CutPrefix(e.Name, "e2e-1.2.3/")
				if !ok || rel == "" || strings.HasSuffix(rel, "/") {
					continue
				}
				code, body := s.Get(t, "/package/e2e/1.2.3/"+(&url.URL{Path: rel}).EscapedPath())
				if code != 200 || !bytes.Equal(body, e.Body) {
					t.Errorf("static %s: %d, identical=%v", rel, code, bytes.Equal(body, e.Body))
				}
			}
			// The "already published" check publishers make first.
			if ok, err := s.Client.Published(context.Background(), packageid.ID{Name: "e2e", Version: "1.2.3"}); err != nil || !ok {
				t.Errorf("Published = %v, %v", ok, err)
			}
			if ok, err := s.Client.Published(context.Background(), packageid.ID{Name: "e2e", Version: "9.9.9"}); err != nil || ok {
				t.Errorf("Published(absent) = %v, %v", ok, err)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	other := sigtest.NewKey(t, "stranger")
	s := servertest.Start(t, servertest.Options{Configure: func(c *server.Config) {
		c.Limits = archive.Limits{MaxTotalSize: 4 << 20, MaxFileSize: 3 << 20, MaxRatio: 100, MaxEntries: 1000}
	}})
	sign := func(b []byte) []byte { return s.Key.Sign(t, b) }
	good := ziptest.Package(t, "taken", "1.0.0")
	if sub := s.Publish(t, "taken-1.0.0.zip", good, client.Options{Legacy: true}); sub.Status != api.StatusPublished {
		t.Fatalf("setup publish: %v", sub.Reasons)
	}
	s.WaitVisible(t, "taken", "1.0.0")
	pkg := func(name, version string, extra ...ziptest.Entry) []byte {
		return ziptest.Package(t, name, version, extra...)
	}
	entries := func(extra ...ziptest.Entry) []ziptest.Entry { return ziptest.PackageEntries("bad", "1.0.0", extra...) }
	withRaw := func(extra ...ziptest.Entry) []byte { return ziptest.Build(t, append(entries(), extra...)...) }
	truncated := pkg("bad", "1.0.0")
	truncated = truncated[:len(truncated)-30]
	signedOther := func(b []byte) []byte { return other.Sign(t, b) }

	tests := []struct {
		name    string
		file    string
		zip     []byte
		sig     func([]byte) []byte // nil: unsigned
		check   string
		message string
	}{
		{"unsigned", "bad-1.0.0.zip", pkg("bad", "1.0.0"), nil, "signature", "signatures are required"},
		{"unknown key", "bad-1.0.0.zip", pkg("bad", "1.0.0"), signedOther, "signature", "not in the trusted keyring"},
		{"signature over other bytes", "bad-1.0.0.zip", pkg("bad", "1.0.0"), func([]byte) []byte { return sign(pkg("bad", "1.0.1")) }, "signature", "does not match"},
		{"corrupt signature", "bad-1.0.0.zip", pkg("bad", "1.0.0"), func(b []byte) []byte { return bytes.Replace(sign(b), []byte("\n"), []byte("\n%"), 2) }, "signature", "not a valid OpenPGP signature"},
		{"not a zip", "bad-1.0.0.zip", []byte("just text"), sign, "zip", "not a readable zip"},
		{"truncated zip", "bad-1.0.0.zip", truncated, sign, "zip", "not a readable zip"},
		{"no root folder", "bad-1.0.0.zip", ziptest.Build(t, ziptest.Entry{Name: "manifest.yml", Body: ziptest.Manifest("bad", "1.0.0")}), sign, "root", "top level"},
		{"several root folders", "bad-1.0.0.zip", withRaw(ziptest.Entry{Name: "other-1.0.0/manifest.yml", Body: []byte("x")}), sign, "root", "exactly one top-level folder"},
		{"root folder differs", "bad-1.0.0.zip", pkg("bad", "1.0.1"), sign, "root", `expected "bad-1.0.0"`},
		{"no manifest", "bad-1.0.0.zip", ziptest.Build(t, ziptest.Entry{Name: "bad-1.0.0/docs/README.md", Body: []byte("x")}), sign, "manifest", "no manifest.yml"},
		{"manifest name differs", "bad-1.0.0.zip", ziptest.Build(t, ziptest.Entry{Name: "bad-1.0.0/manifest.yml", Body: ziptest.Manifest("good", "1.0.0")}), sign, "manifest", `declares name "good"`},
		{"manifest version differs", "bad-1.0.0.zip", ziptest.Build(t, ziptest.Entry{Name: "bad-1.0.0/manifest.yml", Body: ziptest.Manifest("bad", "1.0.2")}), sign, "manifest", `version "1.0.2"`},
		{"name not [a-z0-9_]", "Bad-1.0.0.zip", pkg("Bad", "1.0.0"), sign, "name", "must match ^[a-z0-9_]+$"},
		{"version not strict semver", "bad-1.0.zip", pkg("bad", "1.0"), sign, "name", "strict semver"},
		{"dotdot entry", "bad-1.0.0.zip", withRaw(ziptest.Entry{Name: "bad-1.0.0/../x", Body: []byte("x")}), sign, "path", "'..'"},
		{"absolute entry", "bad-1.0.0.zip", withRaw(ziptest.Entry{Name: "/tmp/x", Body: []byte("x")}), sign, "path", "absolute path"},
		{"symlink entry", "bad-1.0.0.zip", withRaw(ziptest.Entry{Name: "bad-1.0.0/l", Body: []byte("/etc"), Mode: 0o777 | 1<<27}), sign, "path", "symbolic links"},
		{"duplicate entry", "bad-1.0.0.zip", withRaw(ziptest.Entry{Name: "bad-1.0.0/manifest.yml", Body: []byte("x")}), sign, "path", "duplicate"},
		{"non-UTF-8 name", "bad-1.0.0.zip", withRaw(ziptest.Entry{Name: "bad-1.0.0/\xfe\xff", Body: []byte("x")}), sign, "path", "UTF-8"},
		{"per-file size", "bad-1.0.0.zip", withRaw(ziptest.Entry{Name: "bad-1.0.0/big", Body: bytes.Repeat([]byte("ab"), 2<<20), Store: true}), sign, "size", "per-file limit"},
		{"total size", "bad-1.0.0.zip", withRaw(ziptest.Entry{Name: "bad-1.0.0/b1", Body: bytes.Repeat([]byte("x"), 5<<19), Store: true}, ziptest.Entry{Name: "bad-1.0.0/b2", Body: bytes.Repeat([]byte("y"), 5<<19), Store: true}), sign, "size", "uncompressed total"},
		{"zip bomb ratio", "bad-1.0.0.zip", withRaw(ziptest.Entry{Name: "bad-1.0.0/bomb", Body: make([]byte, 3<<20-1)}), sign, "size", "compression ratio"},
		{"already published, same bytes", "taken-1.0.0.zip", good, sign, "duplicate", "already published"},
		{"already published, other bytes", "taken-1.0.0.zip", pkg("taken", "1.0.0", ziptest.Entry{Name: "extra.txt", Body: []byte("new")}), sign, "duplicate", "already published"},
		{"malformed YAML", "bad-1.0.0.zip", ziptest.Build(t, ziptest.Entry{Name: "bad-1.0.0/manifest.yml", Body: []byte("name: bad\nversion: 1.0.0\ntitle: [oops\n")}), sign, "manifest", "malformed YAML"},
		{"constraint EPR cannot parse", "bad-1.0.0.zip", ziptest.Build(t, ziptest.Entry{Name: "bad-1.0.0/manifest.yml", Body: bytes.Replace(ziptest.Manifest("bad", "1.0.0"), []byte(`"^8.0.0"`), []byte(`"not a constraint"`), 1)}, ziptest.Entry{Name: "bad-1.0.0/docs/README.md", Body: []byte("x")}), sign, "manifest", "would not load in a registry"},
		{"YAML alias bomb", "bad-1.0.0.zip", ziptest.Build(t, ziptest.Entry{Name: "bad-1.0.0/manifest.yml", Body: aliasBomb()}), sign, "manifest", "excessive aliasing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sig []byte
			if tt.sig != nil {
				sig = tt.sig(tt.zip)
			}
			sub, err := s.Client.Publish(context.Background(), tt.file, bytes.NewReader(tt.zip), sig, client.Options{Legacy: true})
			if err != nil {
				t.Fatalf("publish: %v", err)
			}
			if sub.Status != api.StatusRejected {
				t.Fatalf("status %s, want rejected", sub.Status)
			}
			found := false
			for _, r := range sub.Reasons {
				if r.Check == tt.check && strings.Contains(r.Message, tt.message) {
					found = true
				}
				if r.Message == "" || r.Check == "" {
					t.Errorf("reason without check or message: %+v", r)
				}
			}
			if !found {
				t.Fatalf("reasons %+v, want check %q containing %q", sub.Reasons, tt.check, tt.message)
			}
			// The record is queryable and the refusal left no trace.
			again, err := s.Client.Status(context.Background(), sub.ID, 0)
			if err != nil || again.Status != api.StatusRejected {
				t.Fatalf("status lookup: %+v %v", again, err)
			}
			stem := strings.TrimSuffix(tt.file, ".zip")
			if stem != "taken-1.0.0" {
				if keys := publicKeys(t, s.Server.Buckets.Public, stem); len(keys) > 0 {
					t.Fatalf("refused package left public objects: %v", keys)
				}
			}
		})
	}
	// After all refusals, the public bucket holds exactly the one package,
	// unchanged.
	if got := searchIDs(t, s, "?all=true&prerelease=true"); strings.Join(got, ",") != "taken-1.0.0" {
		t.Fatalf("/search = %v", got)
	}
	if _, body := s.Get(t, "/epr/taken/taken-1.0.0.zip"); !bytes.Equal(body, good) {
		t.Fatal("published zip changed")
	}
}

func aliasBomb() []byte {
	var b strings.Builder
	b.WriteString("name: bad\nversion: 1.0.0\na: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		b.WriteString(n + ": &" + n + " [" + strings.TrimSuffix(strings.Repeat("*"+prev+",", 9), ",") + "]\n")
		prev = n
	}
	return []byte(b.String())
}

func TestPublishAPIAuthAndLimits(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Configure: func(c *server.Config) { c.MaxUploadSize = 64 << 10 }})
	closed := servertest.Start(t, servertest.Options{Configure: func(c *server.Config) { c.Tokens = nil }})
	post := func(base, token string, body []byte) (int, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("package", "x-1.0.0.zip")
		fw.Write(body)
		mw.Close()
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/publish", &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		name    string
		base    string
		token   string
		body    []byte
		code    int
		message string
	}{
		{"no token", s.URL, "", []byte("zip"), 401, "missing bearer token"},
		{"wrong token", s.URL, "nope", []byte("zip"), 403, "not valid"},
		{"publishing disabled", closed.URL, servertest.Token, []byte("zip"), 403, "--publish-token"},
		{"too large", s.URL, servertest.Token, make([]byte, 128<<10), 413, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := post(tt.base, tt.token, tt.body)
			if code != tt.code || !strings.Contains(body, tt.message) {
				t.Fatalf("got %d %s, want %d containing %q", code, body, tt.code, tt.message)
			}
		})
	}
	// The real client sends a Content-Length when it knows the zip's size
	// and a chunked body otherwise (no Content-Length to refuse up front):
	// the limit must hold both ways.
	for name, zip := range map[string]io.Reader{
		"sized":   bytes.NewReader(make([]byte, 256<<10)),
		"chunked": io.MultiReader(bytes.NewReader(make([]byte, 256<<10))),
	} {
		_, err := s.Client.Submit(context.Background(), "x-1.0.0.zip", zip, nil, client.Options{})
		var apiErr *client.APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("%s oversize upload: %v, want a 413", name, err)
		}
	}
	// Nothing reached the queue or the public bucket.
	if keys := publicKeys(t, s.Server.Buckets.Public, "x-1.0.0"); len(keys) > 0 {
		t.Fatalf("public objects after refused uploads: %v", keys)
	}
	if objs, err := s.Server.Buckets.Internal.ListAll(context.Background(), &storage.ListOptions{Prefix: storage.QueuePrefix}); len(objs) > 0 || err != nil {
		t.Fatalf("queue not empty: %v %v", objs, err)
	}
}

func TestDryRun(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	data := ziptest.Package(t, "dry", "1.0.0")
	sub := s.Publish(t, "dry-1.0.0.zip", data, client.Options{Legacy: true, DryRun: true})
	if sub.Status != api.StatusPassed {
		t.Fatalf("dry run: %s %v", sub.Status, sub.Reasons)
	}
	if keys := publicKeys(t, s.Server.Buckets.Public, "dry-1.0.0"); len(keys) > 0 {
		t.Fatalf("dry run wrote %v", keys)
	}
	if sub := s.Publish(t, "dry-1.0.0.zip", data, client.Options{Legacy: true}); sub.Status != api.StatusPublished {
		t.Fatalf("publish after dry run: %s %v", sub.Status, sub.Reasons)
	}
}

func TestUnsignedAllowed(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Configure: func(c *server.Config) { c.RequireSignatures = false }})
	data := ziptest.Package(t, "nosig", "1.0.0")
	sub, err := s.Client.Publish(context.Background(), "nosig-1.0.0.zip", bytes.NewReader(data), nil, client.Options{Legacy: true})
	if err != nil || sub.Status != api.StatusPublished {
		t.Fatalf("unsigned publish: %+v %v", sub, err)
	}
	s.WaitVisible(t, "nosig", "1.0.0")
	_, body := s.Get(t, "/package/nosig/1.0.0/")
	if bytes.Contains(body, []byte("signature_path")) {
		t.Fatalf("unsigned package carries signature_path: %s", body)
	}
	if code, _ := s.Get(t, "/epr/nosig/nosig-1.0.0.zip.sig"); code == 200 {
		t.Fatal("a signature is served for an unsigned package")
	}
}

func TestSpecValidationInTheJob(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	// A package without changelog.yml and with an unknown manifest field.
	var es []ziptest.Entry
	for _, e := range ziptest.PackageEntries("specbad", "1.0.0") {
		switch {
		case strings.HasSuffix(e.Name, "changelog.yml"):
			continue
		case strings.HasSuffix(e.Name, "manifest.yml"):
			e.Body = append(append([]byte{}, e.Body...), "not_a_field: true\n"...)
		}
		es = append(es, e)
	}
	zip := ziptest.Build(t, es...)
	sub := s.Publish(t, "specbad-1.0.0.zip", zip, client.Options{})
	if sub.Status != api.StatusRejected {
		t.Fatalf("spec-invalid package: %s", sub.Status)
	}
	var msgs []string
	for _, r := range sub.Reasons {
		if r.Check != "spec" {
			t.Errorf("unexpected reason %+v", r)
		}
		msgs = append(msgs, r.String())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"changelog.yml", "not_a_field"} {
		if !strings.Contains(all, want) {
			t.Errorf("reasons do not mention %q:\n%s", want, all)
		}
	}
	if keys := publicKeys(t, s.Server.Buckets.Public, "specbad-1.0.0"); len(keys) > 0 {
		t.Fatalf("refused package left %v", keys)
	}
	// The same bytes as legacy: only the structural checks apply.
	if sub := s.Publish(t, "specbad-1.0.0.zip", zip, client.Options{Legacy: true}); sub.Status != api.StatusPublished {
		t.Fatalf("legacy publish: %s %v", sub.Status, sub.Reasons)
	}
}

func TestMetrics(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	good := ziptest.Package(t, "metered", "1.0.0")
	s.Publish(t, "metered-1.0.0.zip", good, client.Options{Legacy: true})
	s.Publish(t, "metered-1.0.0.zip", good, client.Options{Legacy: true}) // duplicate
	s.WaitVisible(t, "metered", "1.0.0")
	wants := []string{
		`pkgstore_submissions_total{status="published"} 1`,
		`pkgstore_submissions_total{status="rejected"} 1`,
		`pkgstore_indexed_packages 1`,
		`pkgstore_index_passes_total{result="moved"}`,
		`pkgstore_http_requests_total{code="200",method="get"}`,
		`pkgstore_publish_duration_seconds_count 2`,
	}
	has := func(body string) bool {
		for _, want := range wants {
			if !strings.Contains(body, want) {
				return false
			}
		}
		return true
	}
	// The worker counts a submission just after recording it, and a pass
	// is counted when it ends, after its publications became visible (and
	// after the catalog snapshot it writes then): poll.
	var body string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		rec := httptest.NewRecorder()
		s.Server.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if body = rec.Body.String(); has(body) {
			break
		}
	}
	for _, want := range wants {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
