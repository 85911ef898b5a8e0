// Package eprtest runs the reference Elastic Package Registry (EPR 1.40.1,
// ../shared/reference/epr) on loopback for differential tests: over folders
// of zips or unpacked packages, over our buckets through its storage
// indexer, or in proxy mode. Tests skip when ../shared is absent.
package eprtest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"pkgstore/internal/testkit/buftest"
	"pkgstore/internal/testkit/sharedtest"
)

// Options say what the reference serves.
type Options struct {
	// PackagePaths are folders of *.zip (+ .zip.sig) or NAME/VERSION/
	// folders, in precedence order (the first path wins a duplicate).
	PackagePaths []string
	// RequireSignatures keeps EPR's default of refusing unsigned zips;
	// false passes -require-package-signatures=false.
	RequireSignatures bool
	// Validate keeps EPR's package-spec checks; false passes
	// -disable-package-validation (v1 packages predate today's spec).
	Validate bool
	// Args are further flags (storage indexer, proxy mode, features).
	Args []string
	// Env adds variables (STORAGE_EMULATOR_HOST for the storage indexer).
	Env []string
	// StartTimeout bounds the wait for /health (default 2 minutes).
	StartTimeout time.Duration
}

// EPR is a running reference registry.
type EPR struct {
	URL  string // http://127.0.0.1:PORT, no trailing slash
	cmd  *exec.Cmd
	logs *buftest.Buffer
}

// Script returns the path of the reference launcher, or skips tb when
// ../shared is absent.
func Script(tb testing.TB) string {
	tb.Helper()
	p := filepath.Join(sharedtest.Dir(tb), "reference", "epr", "epr")
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("reference EPR not found: %v", err)
	}
	return p
}

// Start runs the reference until the test ends and waits until /health
// answers 200.
func Start(tb testing.TB, o Options) *EPR {
	tb.Helper()
	e, err := Run(tb, o)
	if err != nil {
		tb.Fatalf("eprtest: %v", err)
	}
	return e
}

// ErrExited is returned by Run when the reference stopped before it was
// healthy: EPR refuses to start when a package it reads does not load.
var ErrExited = errors.New("reference EPR exited before it was healthy")

// Run is Start that returns an error instead of failing tb when the
// reference exits or is not healthy in time; the error wraps ErrExited
// and holds the reference's output.
func Run(tb testing.TB, o Options) (*EPR, error) {
	tb.Helper()
	script := Script(tb)
	port, err := freePort()
	if err != nil {
		tb.Fatalf("eprtest: free port: %v", err)
	}
	dir := tb.TempDir()
	var cfg strings.Builder
	if len(o.PackagePaths) == 0 {
		cfg.WriteString("package_paths: []\n")
	} else {
		cfg.WriteString("package_paths:\n")
		for _, p := range o.PackagePaths {
			abs, err := filepath.Abs(p)
			if err != nil {
				tb.Fatalf("eprtest: %v", err)
			}
			fmt.Fprintf(&cfg, "  - %q\n", abs)
		}
	}
	cfgPath := filepath.Join(dir, "epr.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o644); err != nil {
		tb.Fatalf("eprtest: %v", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := []string{"-address", addr, "-config", cfgPath}
	if !o.RequireSignatures {
		args = append(args, "-require-package-signatures=false")
	}
	if !o.Validate {
		args = append(args, "-disable-package-validation")
	}
	args = append(args, o.Args...)
	cmd := exec.Command(script, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), o.Env...)
	logs := &buftest.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	// Its own process group, so that the script's child dies with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("eprtest: start %s: %v", script, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	e := &EPR{URL: "http://" + addr, cmd: cmd, logs: logs}
	tb.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if tb.Failed() {
			tb.Logf("reference EPR output:\n%s", e.Logs())
		}
	})
	timeout := o.StartTimeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-done:
			return nil, fmt.Errorf("%w:\n%s", ErrExited, e.Logs())
		default:
		}
		resp, err := client.Get(e.URL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return e, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("reference EPR not healthy after %s:\n%s", timeout, e.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Pause stops the reference's processes (SIGSTOP to its process group):
// it neither answers nor polls until Resume, as a replica that fell behind.
func (e *EPR) Pause() error { return syscall.Kill(-e.cmd.Process.Pid, syscall.SIGSTOP) }

// Resume continues a paused reference (SIGCONT).
func (e *EPR) Resume() error { return syscall.Kill(-e.cmd.Process.Pid, syscall.SIGCONT) }

// Logs returns what the reference printed so far.
func (e *EPR) Logs() string { return e.logs.String() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
