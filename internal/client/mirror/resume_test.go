package mirror_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"pkgstore/internal/client"
	"pkgstore/internal/client/mirror"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
)

// TestMain lets the test binary double as a mirror process that tests kill.
func TestMain(m *testing.M) {
	if os.Getenv("PKGSTORE_MIRROR_CHILD") == "1" {
		os.Exit(mirrorChild())
	}
	os.Exit(m.Run())
}

func mirrorChild() int {
	kr, err := signature.LoadKeyring(os.Getenv("MIRROR_KEYRING"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cfg := mirror.Config{
		From: os.Getenv("MIRROR_FROM"), Bundle: os.Getenv("MIRROR_BUNDLE"), Keyring: kr,
		Filters: mirror.Filters{AllVersions: true, Prerelease: true}, Workers: 1,
	}
	if to := os.Getenv("MIRROR_TO"); to != "" {
		if cfg.To, err = client.New(to, servertest.Token); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	sum, err := mirror.Run(context.Background(), cfg)
	if err != nil || !sum.OK() {
		fmt.Fprintln(os.Stderr, err, sum)
		return 1
	}
	return 0
}

// killedBefore is how many zips a killed child may fetch: the relay hangs
// every later zip request until unblocked.
const killedBefore = 3

// killMidRun runs a mirror child (the test binary, environment env(relay)
// added) from upstream through a relay that hangs every zip request after
// the first killedBefore; once done() reaches killedBefore and the child
// has asked for one more zip, it kills the child with SIGKILL. It returns
// the relay and a function that stops the hanging.
func killMidRun(t *testing.T, upstream string, env func(relay string) []string, what string, done func() int) (*relay, func()) {
	t.Helper()
	var zipGets, blocking atomic.Int32
	blocking.Store(1)
	rl := newRelay(t, upstream, func(p string, _ int) fault {
		if !strings.HasSuffix(p, ".zip") {
			return pass
		}
		if zipGets.Add(1) > killedBefore && blocking.Load() == 1 {
			return hang
		}
		return pass
	})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), "PKGSTORE_MIRROR_CHILD=1"), env(rl.URL)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for done() < killedBefore || zipGets.Load() <= killedBefore {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("child %s %d, made %d zip requests; stderr: %s", what, done(), zipGets.Load(), stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	return rl, func() { blocking.Store(0) }
}

// TestKillAndResume: a mirror process killed (SIGKILL) in the middle of a
// bundle run leaves no bundle; the next run downloads only what the killed
// one had not verified, and writes a whole bundle.
func TestKillAndResume(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	up, _ := storeUpstream(t, key, catalog)
	b := filepath.Join(t.TempDir(), "site.bundle")
	records := func() int {
		m, _ := filepath.Glob(filepath.Join(mirror.WorkDir(b), "packages", "*.json"))
		return len(m)
	}
	rl, unblock := killMidRun(t, up.URL, func(relay string) []string {
		return []string{"MIRROR_FROM=" + relay, "MIRROR_BUNDLE=" + b, "MIRROR_KEYRING=" + key.PublicPath}
	}, "records", records)
	if _, err := os.Stat(b); err == nil {
		t.Fatal("a killed run left a bundle")
	}
	if n := records(); n != killedBefore {
		t.Fatalf("killed run verified %d revisions, want %d", n, killedBefore)
	}
	stale, _ := filepath.Glob(filepath.Join(mirror.WorkDir(b), ".download-*"))
	if len(stale) == 0 {
		t.Log("no half download was left (killed between files)")
	}

	unblock()
	gets := rl.zipGets()
	sum, err := mirror.Run(context.Background(), mirror.Config{From: rl.URL, Bundle: b, Keyring: key.Keyring, Filters: mirror.Filters{AllVersions: true, Prerelease: true}, Retry: fastRetry})
	if err != nil || !sum.OK() {
		t.Fatalf("resumed run: %v %+v", err, sum)
	}
	if n := rl.zipGets() - gets; n != len(catalog)-killedBefore {
		t.Errorf("resumed run downloaded %d zips, want %d", n, len(catalog)-killedBefore)
	}
	if sum.Present != killedBefore || sum.Transferred != len(catalog)-killedBefore {
		t.Errorf("resumed run: %d present, %d transferred", sum.Present, sum.Transferred)
	}
	m, err := mirror.Unpack(context.Background(), b, t.TempDir(), mirror.Keys{})
	if err != nil || len(m.Packages) != len(catalog) {
		t.Fatalf("resumed bundle: %v", err)
	}
	if _, err := os.Stat(mirror.WorkDir(b)); !os.IsNotExist(err) {
		t.Errorf("work folder left behind: %v", err)
	}
}

// TestKillAndResumeIntoStore: the same with a store as the target: the
// rerun publishes only what the killed run had not.
func TestKillAndResumeIntoStore(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	up, _ := storeUpstream(t, key, catalog)
	target := servertest.Start(t, servertest.Options{Key: key})
	published := func() int {
		n := 0
		for _, r := range catalog {
			ok, err := target.Client.Published(context.Background(), packageid.ID{Name: r.name, Version: r.version})
			if err == nil && ok {
				n++
			}
		}
		return n
	}
	rl, unblock := killMidRun(t, up.URL, func(relay string) []string {
		return []string{"MIRROR_FROM=" + relay, "MIRROR_TO=" + target.URL, "MIRROR_KEYRING=" + key.PublicPath}
	}, "published", published)
	if n := published(); n != killedBefore {
		t.Fatalf("killed run published %d, want %d", n, killedBefore)
	}
	unblock()
	gets := rl.zipGets()
	sum, err := mirror.Run(context.Background(), mirror.Config{From: rl.URL, To: target.Client, Keyring: key.Keyring, Filters: mirror.Filters{AllVersions: true, Prerelease: true}, Retry: fastRetry})
	if err != nil || !sum.OK() || sum.Present != killedBefore || sum.Transferred != len(catalog)-killedBefore {
		t.Fatalf("resumed run: %v %+v", err, sum)
	}
	if n := rl.zipGets() - gets; n != len(catalog)-killedBefore {
		t.Errorf("resumed run downloaded %d zips, want %d", n, len(catalog)-killedBefore)
	}
	// Published revisions become visible once indexed.
	deadline := time.Now().Add(20 * time.Second)
	for published() != len(catalog) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d published after the resumed run", published(), len(catalog))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
