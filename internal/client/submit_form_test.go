package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"pkgstore/internal/api"
	"testing"
)

// TestSubmitSendsTheForm checks the upload as the server reads it: the
// fields, the signature and the zip, and a Content-Length exactly when the
// zip's remaining size can be known without reading it (chunks otherwise).
func TestSubmitSendsTheForm(t *testing.T) {
	zip := bytes.Repeat([]byte("PK\x03\x04zip bytes "), 20000)
	file := filepath.Join(t.TempDir(), "a-1.0.0.zip")
	if err := os.WriteFile(file, append([]byte("skipped"), zip...), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		zip     func(t *testing.T) io.Reader
		sig     []byte
		opts    Options
		chunked bool
	}{
		{"bytes.Reader", func(*testing.T) io.Reader { return bytes.NewReader(zip) }, []byte("-----SIG-----"), Options{Legacy: true}, false},
		{"file read from an offset", func(t *testing.T) io.Reader {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			if _, err := f.Seek(int64(len("skipped")), io.SeekStart); err != nil {
				t.Fatal(err)
			}
			return f
		}, nil, Options{DryRun: true}, false},
		{"section reader", func(*testing.T) io.Reader {
			return io.NewSectionReader(bytes.NewReader(zip), 0, int64(len(zip)))
		}, []byte("sig"), Options{}, false},
		{"length unknown", func(*testing.T) io.Reader { return io.MultiReader(bytes.NewReader(zip)) }, []byte("sig"), Options{Legacy: true, DryRun: true}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			type seen struct {
				contentLength   int64
				chunked         bool
				legacy, dryRun  string
				sig, pkg, fname string
				auth            string
			}
			got := make(chan seen, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := seen{contentLength: r.ContentLength, chunked: len(r.TransferEncoding) > 0 && r.TransferEncoding[0] == "chunked", auth: r.Header.Get("Authorization")}
				if err := r.ParseMultipartForm(1 << 20); err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				s.legacy, s.dryRun = r.FormValue("legacy"), r.FormValue("dry_run")
				read := func(field string) (string, string) {
					f, h, err := r.FormFile(field)
					if err != nil {
						return "", ""
					}
					defer f.Close()
					b, _ := io.ReadAll(f)
					return string(b), h.Filename
				}
				s.sig, _ = read("signature")
				s.pkg, s.fname = read("package")
				got <- s
				json.NewEncoder(w).Encode(api.Submission{ID: "s1", Status: api.StatusQueued})
			}))
			defer srv.Close()
			c, err := New(srv.URL, "tok")
			if err != nil {
				t.Fatal(err)
			}
			sub, err := c.Submit(context.Background(), "a-1.0.0.zip", tc.zip(t), tc.sig, tc.opts)
			if err != nil || sub.ID != "s1" {
				t.Fatalf("Submit = %v, %v", sub, err)
			}
			s := <-got
			if s.chunked != tc.chunked || (tc.chunked != (s.contentLength == -1)) {
				t.Errorf("chunked %v, Content-Length %d; want chunked %v", s.chunked, s.contentLength, tc.chunked)
			}
			if s.pkg != string(zip) || s.fname != "a-1.0.0.zip" {
				t.Errorf("package part: %d bytes named %q, want the %d bytes of the zip", len(s.pkg), s.fname, len(zip))
			}
			if s.sig != string(tc.sig) {
				t.Errorf("signature part %q, want %q", s.sig, tc.sig)
			}
			if want := map[bool]string{true: "true", false: "false"}; s.legacy != want[tc.opts.Legacy] || s.dryRun != want[tc.opts.DryRun] {
				t.Errorf("legacy=%q dry_run=%q for %+v", s.legacy, s.dryRun, tc.opts)
			}
			if s.auth != "Bearer tok" {
				t.Errorf("Authorization %q", s.auth)
			}
		})
	}
}
