// Package servertest starts real stores on loopback for tests: file or
// memory buckets, a generated signing key, a publishing token.
package servertest

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"pkgstore/internal/api"
	"testing"
	"time"

	"pkgstore/internal/client"
	"pkgstore/internal/server"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/sigtest"
)

// Token is the publishing token of test stores.
const Token = "test-token-0123456789"

// Store is a running store.
type Store struct {
	URL    string
	Server *server.Server
	Key    *sigtest.Key // trusted signing key
	Client *client.Client
	Data   string // the --data folder ("" for memory buckets)
	cancel context.CancelFunc
	done   chan error
}

// Options tune Start.
type Options struct {
	// Data is the --data folder; empty means a new temporary folder.
	Data string
	// Memory uses mem:// buckets instead of folders.
	Memory bool
	// Key is the trusted key; nil generates one.
	Key *sigtest.Key
	// Configure edits the config before the server is built.
	Configure func(*server.Config)
}

// Start runs a store on 127.0.0.1 until the test ends.
func Start(t testing.TB, o Options) *Store {
	t.Helper()
	if o.Key == nil {
		o.Key = sigtest.NewKey(t, "publisher")
	}
	cfg := server.Config{
		Keyrings:          []string{o.Key.PublicPath},
		RequireSignatures: true,
		Tokens:            []string{Token},
		Workers:           2,
		WatchInterval:     100 * time.Millisecond,
	}
	if o.Memory {
		cfg.Storage = storage.Config{PublicURL: "mem://", InternalURL: "mem://"}
	} else {
		if o.Data == "" {
			o.Data = filepath.Join(t.TempDir(), "data")
		}
		cfg.Storage = storage.Config{DataDir: o.Data}
	}
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("server.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &Store{URL: "http://" + ln.Addr().String(), Server: srv, Key: o.Key, Data: o.Data, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- srv.Serve(ctx, ln) }()
	if s.Client, err = client.New(s.URL, Token); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	waitReady(t, s.URL)
	return s
}

// Stop shuts the store down (idempotent).
func (s *Store) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
	s.cancel = nil
	s.Server.Close()
}

func waitReady(t testing.TB, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("store at %s not ready after 10s", url)
}

// Publish signs zip with the store's key and publishes it, waiting for the
// outcome.
func (s *Store) Publish(t testing.TB, fileName string, zip []byte, opts client.Options) *api.Submission {
	t.Helper()
	sub, err := s.Client.Publish(context.Background(), fileName, bytes.NewReader(zip), s.Key.Sign(t, zip), opts)
	if err != nil {
		t.Fatalf("publish %s: %v", fileName, err)
	}
	return sub
}

// Get fetches path and returns status and body.
func (s *Store) Get(t testing.TB, path string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(s.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// WaitVisible waits until /package/NAME/VERSION/ answers 200 (the revision is
// in the registry's index). The bound is generous: it only ends a test that
// is already failing, and a fixture of hundreds of revisions on a loaded
// 2-core machine with -race can take longer than 20 s to index.
func (s *Store) WaitVisible(t testing.TB, name, version string) {
	t.Helper()
	const wait = 90 * time.Second
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.URL + "/package/" + name + "/" + version + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s-%s not visible after %s", name, version, wait)
}
