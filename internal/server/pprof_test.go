package server_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/server"
	"pkgstore/internal/storage"
)

// TestPprofOnItsOwnListener: --pprof-addr (EPR's -httpprof) serves the
// profiler there, and the registry's listener does not.
func TestPprofOnItsOwnListener(t *testing.T) {
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pprofAddr := probe.Addr().String()
	probe.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := server.New(ctx, server.Config{ReadOnly: true, PprofAddr: pprofAddr, Version: "v9.9.9 test",
		Storage: storage.Config{PublicURL: "mem://", InternalURL: "mem://"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	get := func(url string) (int, string) {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			resp, err := http.Get(url)
			if err != nil {
				if time.Now().After(deadline) {
					t.Fatal(err)
				}
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(b)
		}
	}
	if code, body := get("http://" + pprofAddr + "/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("pprof listener: %d %.200q", code, body)
	}
	if code, _ := get("http://" + ln.Addr().String() + "/debug/pprof/"); code != 404 {
		t.Errorf("registry listener serves /debug/pprof/: %d", code)
	}
	if code, body := get("http://" + ln.Addr().String() + "/health?verbose=true"); code != 200 || !strings.Contains(body, `"version": "v9.9.9 test"`) {
		t.Errorf("/health?verbose=true: %d %q", code, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
