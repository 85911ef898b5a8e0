package blobdriver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/storagetest"
)

// TestCloudCreateIfAbsentAcrossProcesses races separate processes, each with
// its own client and connections, as publishing workers on several machines
// would.
func TestCloudCreateIfAbsentAcrossProcesses(t *testing.T) {
	if u := os.Getenv("PKGSTORE_CLOUD_RACER_URL"); u != "" {
		cloudRacer(u, os.Getenv("PKGSTORE_CLOUD_RACER_ID"))
		return
	}
	for _, be := range storagetest.Backends {
		t.Run(be.Name, func(t *testing.T) {
			srv := be.Start(t)
			bucketURL := srv.NewBucket(t)
			const n = 6
			cmds := make([]*exec.Cmd, n)
			for i := range cmds {
				// The emulator host and the AWS and Azure credentials are in
				// the environment already (set by storagetest), so children
				// inherit them.
				cmds[i] = exec.Command(os.Args[0], "-test.run=^TestCloudCreateIfAbsentAcrossProcesses$")
				cmds[i].Env = append(os.Environ(), "PKGSTORE_CLOUD_RACER_URL="+bucketURL, "PKGSTORE_CLOUD_RACER_ID="+strconv.Itoa(i))
			}
			outs := make([]bytes.Buffer, n)
			for i, c := range cmds {
				c.Stderr = &outs[i]
				if err := c.Start(); err != nil {
					t.Fatal(err)
				}
			}
			winner := -1
			for i, c := range cmds {
				code := 0
				if err := c.Wait(); err != nil {
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						t.Fatal(err)
					}
					code = ee.ExitCode()
				}
				switch code {
				case 0:
					if winner >= 0 {
						t.Errorf("processes %d and %d both won", winner, i)
					}
					winner = i
				case 1:
				default:
					t.Errorf("racer %d exited %d: %s", i, code, outs[i].String())
				}
			}
			if winner < 0 {
				t.Fatal("no process won")
			}
			b := storagetest.Open(t, bucketURL)
			got, err := b.ReadAll(context.Background(), "k/obj.zip")
			if err != nil || string(got) != "racer "+strconv.Itoa(winner) {
				t.Fatalf("stored %q, %v; want racer %d's bytes", got, err, winner)
			}
		})
	}
}

// cloudRacer is the child side of TestCloudCreateIfAbsentAcrossProcesses: it
// exits 0 when it created the object, 1 when it was taken, 2 otherwise.
func cloudRacer(bucketURL, id string) {
	ctx := context.Background()
	b, err := storage.OpenURL(ctx, bucketURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	err = b.CreateIfAbsent(ctx, "k/obj.zip", strings.NewReader("racer "+id), nil)
	b.Close()
	switch {
	case err == nil:
		os.Exit(0)
	case errors.Is(err, storage.ErrExists):
		os.Exit(1)
	default:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}

// recorder is a loopback reverse proxy in front of a bucket server that
// remembers every request it forwards, so a test can see what the driver put
// on the wire.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
	srv  *httptest.Server
}

type recorded struct {
	method, path string
	query        url.Values
	header       http.Header
	status       int
	errorCode    string // Azure's x-ms-error-code
}

func newRecorder(t *testing.T, target string) *recorder {
	t.Helper()
	tu, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	proxy := &httputil.ReverseProxy{
		// Only the address changes: the Host header stays the proxy's, which
		// is what the S3 signature covers.
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = tu.Scheme
			pr.Out.URL.Host = tu.Host
		},
		ModifyResponse: func(resp *http.Response) error {
			in := resp.Request
			r.mu.Lock()
			r.reqs = append(r.reqs, recorded{in.Method, in.URL.Path, in.URL.Query(), in.Header.Clone(), resp.StatusCode, resp.Header.Get("x-ms-error-code")})
			r.mu.Unlock()
			return nil
		},
	}
	r.srv = httptest.NewServer(proxy)
	t.Cleanup(r.srv.Close)
	return r
}

// writes returns the recorded requests that carried object data or completed
// an upload (the ones a precondition must ride on).
func (r *recorder) writes() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recorded
	for _, q := range r.reqs {
		if q.method == http.MethodPut || q.method == http.MethodPost {
			out = append(out, q)
		}
	}
	return out
}

// TestCloudPreconditionOnTheWire checks, through a recording proxy, that
// CreateIfAbsent sends each service's native create-only precondition, that
// the server refuses the second create (412; Azure: 409 BlobAlreadyExists or
// 412 ConditionNotMet), and that a plain write (WriteFile) sends none.
func TestCloudPreconditionOnTheWire(t *testing.T) {
	for _, be := range storagetest.Backends {
		t.Run(be.Name, func(t *testing.T) {
			var bucketURL string
			var rec *recorder
			switch be.Name {
			case "gcs":
				g := storagetest.StartGCS(t)
				bucketURL = g.NewBucket(t)
				rec = newRecorder(t, "http://"+g.Host)
				t.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(rec.srv.URL, "http://"))
			case "s3":
				m := storagetest.StartMinIO(t)
				name := strings.TrimPrefix(strings.SplitN(m.NewBucket(t), "?", 2)[0], "s3://")
				rec = newRecorder(t, m.Endpoint)
				proxied := *m
				proxied.Endpoint = rec.srv.URL
				bucketURL = proxied.BucketURL(name)
			case "azure":
				a := storagetest.StartAzurite(t)
				name := strings.TrimPrefix(strings.SplitN(a.NewBucket(t), "?", 2)[0], "azblob://")
				// Shared Key signs the account and path, not the host, so
				// the proxy's address can stand in for Azurite's.
				rec = newRecorder(t, "http://"+a.Host)
				proxied := *a
				proxied.Host = strings.TrimPrefix(rec.srv.URL, "http://")
				bucketURL = proxied.BucketURL(name)
			}
			// hasPrecondition reports whether a request carries the native
			// create-only condition.
			hasPrecondition := map[string]func(recorded) bool{
				"gcs":   func(q recorded) bool { return q.query.Get("ifGenerationMatch") == "0" },
				"s3":    func(q recorded) bool { return q.header.Get("If-None-Match") == "*" },
				"azure": func(q recorded) bool { return q.header.Get("If-None-Match") == "*" },
			}[be.Name]
			// refused reports whether a response is the service's refusal of
			// a create over an existing object.
			refused := func(q recorded) bool { return q.status == http.StatusPreconditionFailed }
			if be.Name == "azure" {
				refused = func(q recorded) bool {
					return (q.status == http.StatusConflict && q.errorCode == "BlobAlreadyExists") ||
						(q.status == http.StatusPreconditionFailed && q.errorCode == "ConditionNotMet")
				}
			}
			// carrier picks, among the requests of one create, the one the
			// precondition must ride on: the single upload request, or for
			// chunked uploads the GCS resumable-session start, the S3
			// CompleteMultipartUpload and the Azure Put Block List.
			carrier := map[string]func(recorded, bool) bool{
				"gcs": func(q recorded, chunked bool) bool {
					want := "multipart"
					if chunked {
						want = "resumable"
					}
					// Chunks of a resumable session go to the same path with an
					// upload_id; only the request opening the session counts.
					return q.method == http.MethodPost && q.query.Get("uploadType") == want && !q.query.Has("upload_id")
				},
				"s3": func(q recorded, chunked bool) bool {
					if chunked {
						return q.method == http.MethodPost && q.query.Has("uploadId")
					}
					return q.method == http.MethodPut
				},
				"azure": func(q recorded, chunked bool) bool {
					if chunked {
						return q.method == http.MethodPut && q.query.Get("comp") == "blocklist"
					}
					return q.method == http.MethodPut && !q.query.Has("comp")
				},
			}[be.Name]
			ctx := context.Background()
			b := storagetest.Open(t, bucketURL)

			const mib = 1 << 20
			cases := []struct {
				name    string
				chunked bool
				body    func(v string) []byte
				opts    *storage.WriterOptions
			}{
				{"small", false, func(v string) []byte { return []byte(v) }, nil},
				{"chunked", true, func(v string) []byte { return append([]byte(v), make([]byte, 17*mib)...) },
					map[string]*storage.WriterOptions{"gcs": {BufferSize: 4 * mib}, "s3": {BufferSize: 8 * mib}, "azure": {BufferSize: 4 * mib}}[be.Name]},
			}
			for _, tc := range cases {
				key := "a/" + tc.name + ".zip"
				// create runs one CreateIfAbsent and returns its error and the
				// write requests it made.
				create := func(v string) (error, []recorded) {
					n := len(rec.writes())
					err := b.CreateIfAbsent(ctx, key, bytes.NewReader(tc.body(v)), tc.opts)
					return err, rec.writes()[n:]
				}
				err, first := create("one")
				if err != nil {
					t.Fatalf("%s: first create: %v", tc.name, err)
				}
				err, second := create("two")
				if !errors.Is(err, storage.ErrExists) {
					t.Fatalf("%s: second create: %v, want ErrExists", tc.name, err)
				}
				for i, reqs := range [][]recorded{first, second} {
					found := false
					for _, q := range reqs {
						if carrier(q, tc.chunked) {
							found = true
							if !hasPrecondition(q) {
								t.Errorf("%s: create %d: %s %s?%s carries no create-only precondition", tc.name, i+1, q.method, q.path, q.query.Encode())
							}
						}
					}
					if !found {
						t.Errorf("%s: create %d: no request of the expected kind among %d", tc.name, i+1, len(reqs))
					}
				}
				for _, q := range first {
					if q.status >= 300 {
						t.Errorf("%s: first create: %s %s answered %d", tc.name, q.method, q.path, q.status)
					}
				}
				if !slices.ContainsFunc(second, refused) {
					t.Errorf("%s: the server never refused the second create", tc.name)
				}
				if got, err := b.ReadAll(ctx, key); err != nil || !bytes.Equal(got, tc.body("one")) {
					t.Fatalf("%s: stored %d bytes, %v; want the first create's bytes", tc.name, len(got), err)
				}
			}

			n := len(rec.writes())
			if err := b.WriteFile(ctx, "a/plain.json", strings.NewReader("{}"), nil); err != nil {
				t.Fatalf("plain write: %v", err)
			}
			plain := rec.writes()[n:]
			if len(plain) != 1 || hasPrecondition(plain[0]) {
				t.Errorf("plain write: %d requests, or it carries the create-only precondition: %+v", len(plain), plain)
			}
		})
	}
}
