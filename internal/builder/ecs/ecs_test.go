package ecs

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"pkgstore/internal/testkit/treetest"
)

// miniSchema is a small but complete ecs_nested.yml (testdata): every key
// the check looks for, in the file's lexical key order.
var miniSchema = func() string {
	b, err := os.ReadFile(filepath.Join("testdata", "ecs_nested.yml"))
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// serve answers /REF/generated/ecs/ecs_nested.yml with h and counts hits.
func serve(t *testing.T, h http.HandlerFunc) (string, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &hits
}

func okHandler(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v8.11.0/generated/ecs/ecs_nested.yml" {
		http.NotFound(w, r)
		return
	}
	w.Write([]byte(miniSchema))
}

func TestResolveDownload(t *testing.T) {
	half := len(miniSchema) / 2
	// A cut that leaves valid YAML: just after the line holding event.original's flat_name.
	cutLine := strings.Index(miniSchema, "      flat_name: event.original\n") + len("      flat_name: event.original\n")
	cases := []struct {
		name     string
		ref      string
		handler  http.HandlerFunc
		attempts int
		timeout  time.Duration
		wantErr  string // "" means success
		is       error
		hits     int32
	}{
		{name: "ok", ref: "v8.11.0", handler: okHandler, hits: 1},
		{name: "404 names the reference", ref: "v9.99.9", handler: okHandler, wantErr: "v9.99.9", is: ErrUnknownReference, hits: 1},
		{name: "5xx is retried, then reported", ref: "v8.11.0", attempts: 3, hits: 3, wantErr: "503",
			handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) }},
		{name: "5xx once, then served", ref: "v8.11.0", attempts: 3, hits: 2, handler: func() http.HandlerFunc {
			var n atomic.Int32
			return func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					http.Error(w, "down", http.StatusBadGateway)
					return
				}
				okHandler(w, r)
			}
		}()},
		{name: "403 is not retried", ref: "v8.11.0", attempts: 3, hits: 1, wantErr: "403",
			handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) }},
		{name: "hanging server times out", ref: "v8.11.0", attempts: 1, timeout: 200 * time.Millisecond, hits: 1, wantErr: "deadline exceeded",
			handler: func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }},
		{name: "body shorter than Content-Length", ref: "v8.11.0", attempts: 1, hits: 1, wantErr: "unexpected EOF",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "999999")
				w.Write([]byte(miniSchema[:half]))
			}},
		{name: "file cut at a line boundary", ref: "v8.11.0", attempts: 1, hits: 1, is: ErrIncomplete, wantErr: `field set "event"`,
			handler: func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(miniSchema[:cutLine])) }},
		{name: "empty file", ref: "v8.11.0", attempts: 1, hits: 1, is: ErrIncomplete, wantErr: "no field sets",
			handler: func(w http.ResponseWriter, r *http.Request) {}},
		{name: "not ECS", ref: "v8.11.0", attempts: 1, hits: 1, is: ErrIncomplete,
			handler: func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>rate limited</html>\n")) }},
		{name: "unsafe reference", ref: "../etc", hits: 0, wantErr: "only letters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url, hits := serve(t, tc.handler)
			cache := t.TempDir()
			r := &Resolver{BaseURL: url, CacheDir: cache, Attempts: tc.attempts, Timeout: tc.timeout, Backoff: -1}
			s, err := r.Resolve(context.Background(), tc.ref)
			if got := hits.Load(); got != tc.hits {
				t.Errorf("server hit %d times, want %d", got, tc.hits)
			}
			cached := filepath.Join(cache, tc.ref, cacheFile)
			if tc.wantErr != "" || tc.is != nil {
				if err == nil {
					t.Fatalf("no error, want %q", tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %q does not mention %q", err, tc.wantErr)
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("error %v is not %v", err, tc.is)
				}
				if _, serr := os.Stat(cached); serr == nil {
					t.Errorf("a failed download left a cache entry")
				}
				left, _ := filepath.Glob(filepath.Join(cache, "*", ".*.tmp"))
				if len(left) > 0 {
					t.Errorf("temporary files left: %v", left)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f, ok := s.Field("event.category"); !ok || f.Type != "keyword" {
				t.Errorf("event.category = %+v, %v", f, ok)
			}
			b, err := os.ReadFile(cached)
			if err != nil || string(b) != miniSchema {
				t.Errorf("cache holds %d bytes (%v), want the download", len(b), err)
			}
		})
	}
}

// TestWarmCacheOffline: once cached, a reference resolves with the server
// gone, and each reference is fetched once per Resolver however many
// callers ask at the same time.
func TestWarmCacheOffline(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		time.Sleep(50 * time.Millisecond) // let the callers pile up
		okHandler(w, r)
	}))
	cache := t.TempDir()
	r := &Resolver{BaseURL: srv.URL, CacheDir: cache}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.Resolve(context.Background(), "v8.11.0")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if hits.Load() != 1 {
		t.Fatalf("8 concurrent resolutions downloaded %d times", hits.Load())
	}
	srv.Close() // the network is gone

	offline := &Resolver{BaseURL: srv.URL, CacheDir: cache, Attempts: 1}
	s, err := offline.Resolve(context.Background(), "v8.11.0")
	if err != nil {
		t.Fatalf("warm cache, server stopped: %v", err)
	}
	if _, ok := s.Field("process.command_line"); !ok {
		t.Error("schema from the cache lacks process.command_line")
	}
	if _, err := offline.Resolve(context.Background(), "v8.12.0"); err == nil || !strings.Contains(err.Error(), "v8.12.0") {
		t.Errorf("uncached reference with the server stopped: %v", err)
	}
}

func TestDamagedCacheIsReplaced(t *testing.T) {
	url, hits := serve(t, okHandler)
	cache := t.TempDir()
	treetest.Write(t, cache, map[string]string{"v8.11.0/" + cacheFile: miniSchema[:100]})
	r := &Resolver{BaseURL: url, CacheDir: cache}
	if _, err := r.Resolve(context.Background(), "v8.11.0"); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 1 {
		t.Errorf("damaged cache entry: %d downloads, want 1", hits.Load())
	}
	if b, _ := os.ReadFile(filepath.Join(cache, "v8.11.0", cacheFile)); string(b) != miniSchema {
		t.Error("damaged cache entry was not replaced")
	}
}

func TestFileBase(t *testing.T) {
	base := t.TempDir()
	treetest.Write(t, base, map[string]string{
		"v8.11.0/" + SchemaPath: miniSchema,
		"cut/" + SchemaPath:     miniSchema[:len(miniSchema)/3],
	})
	cache := t.TempDir()
	cases := []struct {
		ref     string
		wantErr error
	}{
		{"v8.11.0", nil},
		{"v1.0.0", ErrUnknownReference},
		{"cut", ErrIncomplete},
	}
	for _, tc := range cases {
		t.Run(tc.ref, func(t *testing.T) {
			r := &Resolver{BaseURL: "file://" + filepath.ToSlash(base), CacheDir: cache}
			s, err := r.Resolve(context.Background(), tc.ref)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.ref) {
					t.Fatalf("error %v, want %v naming %s", err, tc.wantErr, tc.ref)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Len() != 9 {
				t.Errorf("%d fields, want 9", s.Len())
			}
		})
	}
	if des, _ := os.ReadDir(cache); len(des) != 0 {
		t.Errorf("a file:// base wrote to the cache: %v", des)
	}
}

func TestInject(t *testing.T) {
	s, err := Parse("test", []byte(miniSchema))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		schema  *Schema
		opts    InjectOptions
		in      string
		want    string // YAML of the result; "" with changed false means unchanged
		wantErr string
	}{
		{name: "nothing external", schema: s, in: "- name: a\n  type: keyword\n"},
		{name: "top-level dotted name", schema: s,
			in:   "- name: event.category\n  external: ecs\n",
			want: "- name: event.category\n  type: keyword\n  description: Event category.\n"},
		{name: "below a group", schema: s,
			in:   "- name: event\n  type: group\n  fields:\n  - name: original\n    external: ecs\n",
			want: "- name: event\n  type: group\n  fields:\n  - name: original\n    type: keyword\n    description: Raw text message.\n    index: false\n    doc_values: false\n"},
		{name: "package keys override, type kept", schema: s,
			in:   "- name: event.module\n  external: ecs\n  description: Ours.\n  type: long\n  example: nginx\n",
			want: "- name: event.module\n  type: keyword\n  description: Ours.\n  example: nginx\n"},
		{name: "keyword may become constant_keyword", schema: s,
			in:   "- name: event.module\n  external: ecs\n  type: constant_keyword\n",
			want: "- name: event.module\n  type: constant_keyword\n  description: Name of the module.\n"},
		{name: "object may become flattened", schema: s,
			in:   "- name: process.env_vars\n  external: ecs\n  type: flattened\n",
			want: "- name: process.env_vars\n  type: flattened\n  description: Environment variables.\n"},
		{name: "object_type of an ECS object field", schema: s,
			in:   "- name: container.labels\n  external: ecs\n",
			want: "- name: container.labels\n  type: object\n  object_type: keyword\n  description: Image labels.\n"},
		{name: "multi_fields", schema: s,
			in:   "- name: process.command_line\n  external: ecs\n",
			want: "- name: process.command_line\n  type: wildcard\n  description: Full command line.\n  multi_fields:\n  - name: text\n    type: match_only_text\n"},
		{name: "root field set", schema: s,
			in:   "- name: '@timestamp'\n  external: ecs\n",
			want: "- name: '@timestamp'\n  type: date\n  description: Date/time when the event originated.\n"},
		{name: "keep external, validation settings", schema: s, opts: InjectOptions{KeepExternal: true, IncludeValidationSettings: true},
			in:   "- name: event.category\n  external: ecs\n",
			want: "- name: event.category\n  external: ecs\n  type: keyword\n  description: Event category.\n  normalize: [array]\n  allowed_values:\n  - name: authentication\n    description: Authentication.\n    expected_event_types: [start]\n"},
		{name: "unknown field", schema: s, in: "- name: event.nope\n  external: ecs\n", wantErr: "event.nope"},
		{name: "no dependency", schema: nil, in: "- name: event.module\n  external: ecs\n", wantErr: "_dev/build/build.yml"},
		{name: "other schema", schema: s, in: "- name: event.module\n  external: beats\n", wantErr: `"beats"`},
		{name: "not a list", schema: s, in: "name: x\n", wantErr: "parse fields"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, changed, err := tc.schema.InjectFile([]byte(tc.in), tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one mentioning %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if changed || string(out) != tc.in {
					t.Fatalf("changed=%v out=%q, want the input unchanged", changed, out)
				}
				return
			}
			if !changed {
				t.Fatal("changed = false")
			}
			var got, want any
			if err := yaml.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatal(err)
			}
			gb, _ := yaml.Marshal(got)
			wb, _ := yaml.Marshal(want)
			if string(gb) != string(wb) {
				t.Errorf("got:\n%s\nwant:\n%s", gb, wb)
			}
		})
	}
}
