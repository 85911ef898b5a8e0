package server_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/server"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/ziptest"
)

// stalledUpload is an attacker's publish request sent over raw TCP: the
// request's headers and, with zipName, the form up to the "package"
// part's headers (the parts pkgstore's client sends first included),
// then only what the test sends.
type stalledUpload struct {
	c net.Conn
}

func startUpload(t *testing.T, url, secret, zipName string) *stalledUpload {
	t.Helper()
	c := rawConn(t, url)
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	if zipName != "" {
		mw.WriteField("legacy", "true")
		mw.WriteField("dry_run", "false")
		if _, err := mw.CreateFormFile("package", zipName); err != nil {
			t.Fatal(err)
		}
	}
	var req bytes.Buffer
	fmt.Fprintf(&req, "POST /api/v1/publish HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n", mw.FormDataContentType(), 50<<20)
	if secret != "" {
		fmt.Fprintf(&req, "Authorization: Bearer %s\r\n", secret)
	}
	req.WriteString("\r\n")
	req.Write(form.Bytes())
	if _, err := c.Write(req.Bytes()); err != nil {
		t.Fatal(err)
	}
	return &stalledUpload{c: c}
}

// answer reads the server's answer within d; ok is false when none came.
func (u *stalledUpload) answer(d time.Duration) (code int, body string, ok bool) {
	u.c.SetReadDeadline(time.Now().Add(d))
	resp, err := http.ReadResponse(bufio.NewReader(u.c), nil)
	if err != nil {
		return 0, err.Error(), false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), true
}

// drip sends one byte of zip every interval until stop is closed or the
// connection fails.
func (u *stalledUpload) drip(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if _, err := u.c.Write([]byte{'P'}); err != nil {
				return
			}
		}
	}
}

func waitUploads(t *testing.T, s *servertest.Store, cond func(n int) bool, what string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := s.Server.PublishAPI.Uploads()
		if cond(n) {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d uploads hold a slot after 10s, want %s", n, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// publishWithin publishes name-1.0.0 with secret and fails unless it is
// published within d.
func publishWithin(t *testing.T, s *servertest.Store, secret, name string, d time.Duration) {
	t.Helper()
	c := newClient(t, s, secret)
	c.SubmitRetry.Attempts = 1 // a 503 is a failure here, not something to wait out
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	zip := ziptest.Package(t, name, "1.0.0")
	start := time.Now()
	sub, err := c.Publish(ctx, name+"-1.0.0.zip", bytes.NewReader(zip), s.Key.Sign(t, zip), client.Options{Legacy: true})
	if err != nil {
		t.Fatalf("publish %s after %v: %v", name, time.Since(start).Round(time.Millisecond), err)
	}
	if sub.Status != api.StatusPublished {
		t.Fatalf("publish %s: %s %v", name, sub.Status, sub.Reasons)
	}
}

// TestOneTokenCannotBlockEveryTeam: team A (one named token) opens 16
// uploads that send their headers and the package part's, then nothing,
// 16 that send their headers only, and two that drip a byte a second;
// team B (another named token) and the shared --publish-token still
// publish at once, and team A holds no more than its share of slots.
func TestOneTokenCannotBlockEveryTeam(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Memory: true, Configure: func(c *server.Config) {
		c.TokensFile = writeTokens(t)
		c.MaxUploads = 16
	}})
	stop := make(chan struct{})
	defer close(stop)
	for i := range 16 {
		startUpload(t, s.URL, secretAWS, fmt.Sprintf("aws-1.0.%d.zip", i))
		startUpload(t, s.URL, secretAWS, "")
	}
	for i := range 2 {
		u := startUpload(t, s.URL, secretAWS, fmt.Sprintf("aws_drip-1.0.%d.zip", i))
		go u.drip(time.Second, stop)
	}
	// Team A's uploads arrive and take what they can.
	n := waitUploads(t, s, func(n int) bool { return n >= 4 }, "team A's first uploads")
	time.Sleep(200 * time.Millisecond)
	if n = s.Server.PublishAPI.Uploads(); n > 4 {
		t.Errorf("team A's one token holds %d upload slots, want at most 4 (--max-uploads-per-token)", n)
	}
	publishWithin(t, s, secretCisco, "cisco_b", 10*time.Second)
	publishWithin(t, s, servertest.Token, "shared", 10*time.Second)
}

// TestUploadsHoldNoSlotBeforeTheirPackagePasses: with one upload slot,
// requests without a token, with an unknown one, with a token that may
// not publish the package they name, and with a valid token that stalls
// before naming its package, hold no slot; a legitimate upload gets it.
func TestUploadsHoldNoSlotBeforeTheirPackagePasses(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Memory: true, Configure: func(c *server.Config) {
		c.TokensFile = writeTokens(t)
		c.MaxUploads = 1
	}})
	for _, tc := range []struct {
		name, secret, zip string
		code              int // 0: no answer yet (stalled)
	}{
		{"no token", "", "aws-1.0.0.zip", 401},
		{"unknown token", secretUnknown, "aws-1.0.0.zip", 403},
		{"expired token", secretExpired, "aws-1.0.0.zip", 403},
		{"out of scope", secretCisco, "aws-1.0.0.zip", 403},
		{"stalled before the package part", secretAWS, "", 0},
		{"stalled before the package part, shared token", servertest.Token, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 3 {
				u := startUpload(t, s.URL, tc.secret, tc.zip)
				code, body, ok := u.answer(time.Second)
				switch {
				case tc.code == 0 && ok:
					t.Fatalf("answered %d %s, want no answer while the client stalls", code, body)
				case tc.code != 0 && code != tc.code:
					t.Fatalf("answered %d %s, want %d at once", code, body, tc.code)
				}
			}
			if n := s.Server.PublishAPI.Uploads(); n != 0 {
				t.Fatalf("%d upload slots taken", n)
			}
		})
	}
	publishWithin(t, s, secretAWS, "aws", 10*time.Second)

	// What precedes the package part is bounded in size too.
	c := rawConn(t, s.URL)
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	mw.WriteField("signature", strings.Repeat("t", 1<<20))
	fmt.Fprintf(c, "POST /api/v1/publish HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\nAuthorization: Bearer %s\r\n\r\n", mw.FormDataContentType(), form.Len(), secretAWS)
	go c.Write(form.Bytes())
	code, body, _ := (&stalledUpload{c: c}).answer(5 * time.Second)
	if code != http.StatusBadRequest || !strings.Contains(body, `before the \"package\" part exceed`) {
		t.Errorf("a 1 MiB field before the package: %d %s, want 400 naming the limit", code, body)
	}
}

// slowReader sends its bytes chunk by chunk, one every interval.
type slowReader struct {
	data     []byte
	chunk    int
	interval time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	time.Sleep(r.interval)
	n := copy(p[:min(len(p), r.chunk)], r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestSlowUploadsCut: an admitted upload that drips its zip, or stops
// sending it, is cut with a 408 once it falls a window behind the minimum
// rate, and its slot is free again; an upload above the rate, however
// slow, is not.
func TestSlowUploadsCut(t *testing.T) {
	s := servertest.Start(t, servertest.Options{Memory: true, Configure: func(c *server.Config) {
		c.TokensFile = writeTokens(t)
		c.MinUploadRate = 256
		c.UploadRateWindow = 500 * time.Millisecond
	}})
	stop := make(chan struct{})
	defer close(stop)
	drip := startUpload(t, s.URL, secretAWS, "aws-1.0.0.zip")
	go drip.drip(20*time.Millisecond, stop)
	silent := startUpload(t, s.URL, secretCisco, "cisco_x-1.0.0.zip")
	waitUploads(t, s, func(n int) bool { return n == 2 }, "2")
	for name, u := range map[string]*stalledUpload{"drip": drip, "silent": silent} {
		start := time.Now()
		code, body, ok := u.answer(10 * time.Second)
		if !ok || code != http.StatusRequestTimeout || !strings.Contains(body, "too slow") || !strings.Contains(body, "--upload-min-rate") {
			t.Errorf("%s upload: %d %s (answered: %v), want 408 saying it was too slow", name, code, body, ok)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s upload cut after %v, window 500ms", name, took)
		}
	}
	waitUploads(t, s, func(n int) bool { return n == 0 }, "0 once the slow uploads are cut")
	// The cut uploads left nothing in the queue.
	objs, err := s.Server.Buckets.Internal.ListAll(context.Background(), &storage.ListOptions{Prefix: storage.QueuePrefix})
	if err != nil || len(objs) != 0 {
		t.Errorf("queue after the cut uploads: %v %v", objs, err)
	}
	publishWithin(t, s, secretAWS, "aws", 10*time.Second)

	// 64 bytes every 50 ms, five times the minimum, for over two windows.
	zip := ziptest.Package(t, "aws_slow", "1.0.0")
	start := time.Now()
	sub, err := newClient(t, s, secretAWS).Publish(context.Background(), "aws_slow-1.0.0.zip", &slowReader{data: zip, chunk: 64, interval: 50 * time.Millisecond}, s.Key.Sign(t, zip), client.Options{Legacy: true})
	if err != nil || sub.Status != api.StatusPublished {
		t.Fatalf("an upload above the minimum rate: %v %v", sub, err)
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("the slow upload took %v: not slow enough to test anything", took)
	}
}
