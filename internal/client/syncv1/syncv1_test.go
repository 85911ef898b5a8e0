package syncv1

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"pkgstore/internal/testkit/treetest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"pkgstore/internal/builder"
	"pkgstore/internal/client"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/testkit/gpgtest"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sharedtest"
)

// searchAll returns NAME-VERSION of every revision the registry lists.
func searchAll(t testing.TB, s *servertest.Store) []string {
	t.Helper()
	code, body := s.Get(t, "/search?all=true&prerelease=true")
	if code != http.StatusOK {
		t.Fatalf("/search: %d %s", code, body)
	}
	var res []struct{ Name, Version string }
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("/search: %v", err)
	}
	out := make([]string, 0, len(res))
	for _, r := range res {
		out = append(out, r.Name+"-"+r.Version)
	}
	sort.Strings(out)
	return out
}

// waitListed polls /search until it lists exactly want (indexing runs in
// the background after each publication).
func waitListed(t testing.TB, s *servertest.Store, want []string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		got = searchAll(t, s)
		if strings.Join(got, "\n") == strings.Join(want, "\n") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("/search lists %d revisions, want %d; first missing: %v", len(got), len(want), firstMissing(want, got))
}

func firstMissing(want, got []string) string {
	have := map[string]bool{}
	for _, g := range got {
		have[g] = true
	}
	for _, w := range want {
		if !have[w] {
			return w
		}
	}
	return "(none; extra entries)"
}

// TestSyncV1Sample migrates the whole v1 sample into a real store on
// loopback, checks what the registry serves, verifies every zip with gpg,
// then checks that a rerun publishes nothing.
func TestSyncV1Sample(t *testing.T) {
	if testing.Short() {
		t.Skip("migrates 269 revisions")
	}
	src := sharedtest.UnpackV1(t)
	g := gpgtest.New(t)
	s := servertest.Start(t, servertest.Options{})
	g.Import(s.Key.PublicPath)
	ctx := context.Background()

	dirs, err := Revisions(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != sharedtest.V1Revisions {
		t.Fatalf("%d revisions in the sample, want %d", len(dirs), sharedtest.V1Revisions)
	}
	var log bytes.Buffer
	sum, err := Run(ctx, Config{Source: src, Client: s.Client, Key: s.Key.Signer, Workers: 4, Reporter: &LineReporter{W: &log}})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.OK() || sum.Published != len(dirs) || sum.Present != 0 || sum.Total != len(dirs) {
		var b strings.Builder
		sum.WriteSummary(&b, false)
		t.Fatalf("first run: %s", b.String())
	}
	if n := strings.Count(log.String(), "] published "); n != len(dirs) {
		t.Errorf("%d 'published' log lines, want %d", n, len(dirs))
	}
	// Four revisions in flight, yet the report is in folder order.
	var reported []string
	for _, line := range strings.Split(log.String(), "\n") {
		if _, rest, ok := strings.Cut(line, "] published "); ok {
			reported = append(reported, strings.Fields(rest)[0])
		}
	}
	for i, d := range dirs {
		if id := filepath.Base(filepath.Dir(d)) + "-" + filepath.Base(d); i < len(reported) && !strings.HasPrefix(reported[i], id) {
			t.Fatalf("report line %d is %s, want %s (folder order)", i+1, reported[i], id)
		}
	}

	var want []string
	for _, d := range dirs {
		want = append(want, filepath.Base(filepath.Dir(d))+"-"+filepath.Base(d))
	}
	sort.Strings(want)
	waitListed(t, s, want)

	zipDir := t.TempDir()
	sawBrackets := false
	for _, d := range dirs {
		full := filepath.Join(src, d)
		id := packageid.ID{Name: filepath.Base(filepath.Dir(d)), Version: filepath.Base(d)}

		// The served zip is the deterministic build of the folder.
		code, zipBytes := s.Get(t, "/epr/"+id.Name+"/"+id.ZipName())
		if code != http.StatusOK {
			t.Fatalf("%s: zip %d", id, code)
		}
		var rebuilt bytes.Buffer
		if _, _, err := builder.WriteV1(ctx, &rebuilt, full); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(zipBytes, rebuilt.Bytes()) {
			t.Errorf("%s: served zip differs from a fresh build of the folder", id)
		}
		code, sig := s.Get(t, "/epr/"+id.Name+"/"+id.ZipName()+".sig")
		if code != http.StatusOK {
			t.Fatalf("%s: signature %d", id, code)
		}
		zipPath := filepath.Join(zipDir, id.ZipName())
		if err := os.WriteFile(zipPath, zipBytes, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(zipPath+".sig", sig, 0o644); err != nil {
			t.Fatal(err)
		}
		if fpr, err := g.Verify(zipPath+".sig", zipPath); err != nil || fpr != s.Key.Fingerprint {
			t.Fatalf("%s: gpg: key %s, %v", id, fpr, err)
		}

		// Every file is served byte-identical at /package/N/V/<path>.
		err := filepath.WalkDir(full, func(p string, de os.DirEntry, err error) error {
			if err != nil || de.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(full, p)
			rel = filepath.ToSlash(rel)
			sawBrackets = sawBrackets || strings.ContainsAny(rel, "[ ]")
			want, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			code, got := s.Get(t, "/package/"+id.Name+"/"+id.Version+"/"+(&url.URL{Path: rel}).EscapedPath())
			if code != http.StatusOK || !bytes.Equal(got, want) {
				t.Errorf("%s: %s: status %d, identical %v", id, rel, code, bytes.Equal(got, want))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if !sawBrackets {
		t.Error("the sample had no file name with spaces or brackets; the test lost its point")
	}
	code, _ := s.Get(t, "/package/cassandra/1.3.0/"+(&url.URL{Path: "img/[Logs Cassandra] System Logs.png"}).EscapedPath())
	if code != http.StatusOK {
		t.Errorf("cassandra screenshot: %d", code)
	}

	// A rerun publishes nothing: every revision is already present.
	sum, err = Run(ctx, Config{Source: src, Client: s.Client, Key: s.Key.Signer, Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Published != 0 || sum.Present != len(dirs) || !sum.OK() || sum.ZipBytes != 0 {
		t.Fatalf("rerun: published %d, present %d, failed %d, sent %d bytes", sum.Published, sum.Present, len(sum.Failed), sum.ZipBytes)
	}
}

func manifest(name, version string) string {
	return "format_version: 1.0.0\nname: " + name + "\ntitle: " + name + "\nversion: " + version +
		"\ndescription: test\ntype: integration\nrelease: ga\nowner:\n  github: elastic/test\n"
}

// smallV1 is a v1 checkout with two good revisions and broken ones.
func smallV1(t *testing.T) string {
	t.Helper()
	src := t.TempDir()
	treetest.Write(t, src, map[string]string{
		"packages/good/1.0.0/manifest.yml":     manifest("good", "1.0.0"),
		"packages/good/1.0.0/docs/README.md":   "# good\n",
		"packages/good/1.1.0/manifest.yml":     manifest("good", "1.1.0"),
		"packages/good/1.1.0/docs/README.md":   "# good\n",
		"packages/mismatch/2.0.0/manifest.yml": manifest("mismatch", "2.0.1"),
		"packages/nomanifest/1.0.0/README.md":  "no manifest here",
		"packages/good@tmp/1.0.0/manifest.yml": "ignored CI leftover",
		"packages/.hidden/1.0.0/manifest.yml":  "ignored",
	})
	return src
}

func TestSyncSmall(t *testing.T) {
	src := smallV1(t)
	ctx := context.Background()

	t.Run("broken revisions are reported and skipped; rerun resumes", func(t *testing.T) {
		s := servertest.Start(t, servertest.Options{Memory: true})
		// Publish one revision first: the sync must count it as present.
		var zip bytes.Buffer
		if _, _, err := builder.WriteV1(ctx, &zip, filepath.Join(src, "packages", "good", "1.0.0")); err != nil {
			t.Fatal(err)
		}
		s.Publish(t, "good-1.0.0.zip", zip.Bytes(), client.Options{Legacy: true})

		sum, err := Run(ctx, Config{Source: src, Client: s.Client, Key: s.Key.Signer})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Total != 4 || sum.Published != 1 || sum.Present != 1 || len(sum.Failed) != 2 {
			t.Fatalf("summary %+v", sum)
		}
		if f := sum.Failed[0]; f.Dir != "packages/mismatch/2.0.0" || !strings.Contains(strings.Join(f.Reasons, ";"), "broken revision") {
			t.Errorf("first failure %+v", f)
		}
		if f := sum.Failed[1]; f.Dir != "packages/nomanifest/1.0.0" || !strings.Contains(strings.Join(f.Reasons, ";"), "manifest") {
			t.Errorf("second failure %+v", f)
		}
		var out strings.Builder
		sum.WriteSummary(&out, false)
		for _, want := range []string{"published:       1", "already present: 1", "failed:          2", "packages/mismatch/2.0.0:", "manifest.yml names mismatch-2.0.1"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("summary lacks %q:\n%s", want, out.String())
			}
		}
		// The HEAD probe answers from the index, which follows publications
		// in the background.
		waitListed(t, s, []string{"good-1.0.0", "good-1.1.0"})

		sum, err = Run(ctx, Config{Source: src, Client: s.Client, Key: s.Key.Signer})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Published != 0 || sum.Present != 2 || len(sum.Failed) != 2 {
			t.Fatalf("rerun summary %+v", sum)
		}
	})

	t.Run("dry run writes nothing", func(t *testing.T) {
		s := servertest.Start(t, servertest.Options{Memory: true})
		sum, err := Run(ctx, Config{Source: src, Client: s.Client, Key: s.Key.Signer, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Passed != 2 || sum.Published != 0 || len(sum.Failed) != 2 {
			t.Fatalf("summary %+v", sum)
		}
		for _, v := range []string{"1.0.0", "1.1.0"} {
			if ok, err := s.Client.Published(ctx, packageid.ID{Name: "good", Version: v}); err != nil || ok {
				t.Fatalf("dry run published good-%s: %v %v", v, ok, err)
			}
		}
	})

	t.Run("unsigned candidates refused by a store that requires signatures", func(t *testing.T) {
		s := servertest.Start(t, servertest.Options{Memory: true})
		sum, err := Run(ctx, Config{Source: src, Client: s.Client})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Published != 0 || len(sum.Failed) != 4 {
			t.Fatalf("summary %+v", sum)
		}
		if r := strings.Join(sum.Failed[0].Reasons, ";"); sum.Failed[0].ID.Name != "good" || !strings.Contains(r, "signature") {
			t.Errorf("failure %+v", sum.Failed[0])
		}
	})

	t.Run("signature by a key the store does not trust", func(t *testing.T) {
		s := servertest.Start(t, servertest.Options{Memory: true})
		other := servertest.Start(t, servertest.Options{Memory: true}) // only for its (different) key
		sum, err := Run(ctx, Config{Source: src, Client: s.Client, Key: other.Key.Signer})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Published != 0 || len(sum.Failed) != 4 {
			t.Fatalf("summary %+v", sum)
		}
	})

	t.Run("a refused token stops the migration", func(t *testing.T) {
		s := servertest.Start(t, servertest.Options{Memory: true})
		bad, err := client.New(s.URL, "wrong-token")
		if err != nil {
			t.Fatal(err)
		}
		sum, err := Run(ctx, Config{Source: src, Client: bad, Key: s.Key.Signer, Workers: 1})
		if !errors.Is(err, ErrFatal) {
			t.Fatalf("err = %v", err)
		}
		if sum == nil || sum.Published != 0 || len(sum.Failed) == 0 {
			t.Fatalf("summary %+v", sum)
		}
	})

	t.Run("an unreachable registry stops the migration after retries", func(t *testing.T) {
		defer func(b time.Duration) { backoff = b }(backoff)
		backoff = time.Millisecond
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing listens there any more
		c, err := client.New("http://"+addr, "token")
		if err != nil {
			t.Fatal(err)
		}
		sum, err := Run(ctx, Config{Source: src, Client: c, Workers: 1})
		if !errors.Is(err, ErrFatal) || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("err = %v", err)
		}
		if sum.Published != 0 || sum.NotDone == 0 {
			t.Fatalf("summary %+v", sum)
		}
	})

	t.Run("not a v1 checkout", func(t *testing.T) {
		s := servertest.Start(t, servertest.Options{Memory: true})
		_, err := Run(ctx, Config{Source: t.TempDir(), Client: s.Client})
		if !errors.Is(err, ErrFatal) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		s := servertest.Start(t, servertest.Options{Memory: true})
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		sum, err := Run(cctx, Config{Source: src, Client: s.Client, Key: s.Key.Signer})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		if sum.Published != 0 || sum.NotDone == 0 {
			t.Fatalf("summary %+v", sum)
		}
	})
}

// TestRetriesTransientFailures puts a flaky front (503 on the first HEAD
// and the first upload of each revision, then the real store) before a
// store: the migration still publishes everything, and a client error
// (400) is not retried.
func TestRetriesTransientFailures(t *testing.T) {
	defer func(b time.Duration) { backoff = b }(backoff)
	backoff = time.Millisecond
	src := smallV1(t)
	s := servertest.Start(t, servertest.Options{Memory: true})
	var mu sync.Mutex
	seen := map[string]int{}
	badRequest := false
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Method + " " + r.URL.Path
		if r.Method == http.MethodPost {
			if err := r.ParseMultipartForm(1 << 20); err != nil {
				t.Errorf("parse upload: %v", err)
			}
			key += " " + r.MultipartForm.File["package"][0].Filename
			// Replay the body for the real store.
			r.Body.Close()
		}
		mu.Lock()
		seen[key]++
		n, bad := seen[key], badRequest
		mu.Unlock()
		switch {
		case r.Method == http.MethodPost && bad:
			http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
		case n == 1 && (r.Method == http.MethodHead || r.Method == http.MethodPost):
			http.Error(w, "try later", http.StatusServiceUnavailable)
		case r.Method == http.MethodPost:
			resend(t, w, r, s.URL)
		default:
			s.Server.Handler().ServeHTTP(w, r)
		}
	}))
	defer front.Close()
	c, err := client.New(front.URL, servertest.Token)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), Config{Source: src, Client: c, Key: s.Key.Signer})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Published != 2 || len(sum.Failed) != 2 {
		t.Fatalf("summary %+v", sum)
	}
	mu.Lock()
	if n := seen["POST /api/v1/publish good-1.1.0.zip"]; n != 2 {
		t.Errorf("good-1.1.0 uploaded %d times, want 2 (one 503, one retry)", n)
	}
	badRequest = true
	mu.Unlock()

	// A 400 is final: one upload, a failure, no retry.
	one := t.TempDir()
	treetest.Write(t, one, map[string]string{"packages/solo/1.0.0/manifest.yml": manifest("solo", "1.0.0")})
	sum, err = Run(context.Background(), Config{Source: one, Client: c, Key: s.Key.Signer})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Failed) != 1 || !strings.Contains(strings.Join(sum.Failed[0].Reasons, ";"), "400") {
		t.Fatalf("summary %+v", sum)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := seen["POST /api/v1/publish solo-1.0.0.zip"]; n != 1 {
		t.Errorf("solo-1.0.0 uploaded %d times after a 400, want 1", n)
	}
}

// resend forwards a parsed multipart upload to the real store.
func resend(t *testing.T, w http.ResponseWriter, r *http.Request, base string) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, vs := range r.MultipartForm.Value {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	for _, field := range []string{"signature", "package"} {
		for _, fh := range r.MultipartForm.File[field] {
			f, err := fh.Open()
			if err != nil {
				t.Error(err)
				return
			}
			fw, _ := mw.CreateFormFile(field, fh.Filename)
			io.Copy(fw, f)
			f.Close()
		}
	}
	mw.Close()
	req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, base+r.URL.RequestURI(), &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", r.Header.Get("Authorization"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}
