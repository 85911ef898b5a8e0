package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/govern/audit"
	"pkgstore/internal/pkg/signature"
	"pkgstore/internal/publish/index"
	"pkgstore/internal/server"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/processtest"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/ziptest"
)

// TestMain lets the test binary double as a `pkgstore serve` process, so
// tests can run stores in separate processes (and kill them) without
// building the command first.
func TestMain(m *testing.M) {
	if os.Getenv("PKGSTORE_TEST_SERVE") == "1" {
		os.Exit(serveChild())
	}
	processtest.Main(m) // stops process-wide fixtures (the shared Azurite)
}

// crashExit is the exit code of a child killed by an injected crash.
const crashExit = 99

func serveChild() int {
	cfg := server.Config{
		Storage:           storage.Config{DataDir: os.Getenv("PKGSTORE_TEST_DATA")},
		Keyrings:          []string{os.Getenv("PKGSTORE_TEST_KEYRING")},
		RequireSignatures: true,
		Tokens:            []string{servertest.Token},
		Workers:           2,
		WatchInterval:     100 * time.Millisecond,
		LogKey:            os.Getenv("PKGSTORE_TEST_LOGKEY"),
	}
	if path := os.Getenv("PKGSTORE_TEST_STORE_KEY"); path != "" {
		k, err := signature.LoadStoreKey(path, "", time.Now())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		cfg.StoreKey = k
	}
	if at := os.Getenv("PKGSTORE_TEST_CRASH_AT"); at != "" {
		cfg.AfterStep = func(step string) {
			if step == at {
				os.Exit(crashExit) // no cleanup, no deferred calls: a crash
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	srv, err := server.New(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.WriteFile(os.Getenv("PKGSTORE_TEST_ADDRFILE"), []byte(ln.Addr().String()), 0o644); err != nil {
		return 1
	}
	if err := srv.Serve(ctx, ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// child is a store running in another process.
type child struct {
	cmd    *exec.Cmd
	URL    string
	Client *client.Client
	done   chan error
}

func startChild(t *testing.T, data, keyring, crashAt string) *child {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), "addr")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PKGSTORE_TEST_SERVE=1", "PKGSTORE_TEST_DATA="+data, "PKGSTORE_TEST_KEYRING="+keyring, "PKGSTORE_TEST_ADDRFILE="+addrFile, "PKGSTORE_TEST_CRASH_AT="+crashAt)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			c.URL = "http://" + string(b)
			var err error
			if c.Client, err = client.New(c.URL, servertest.Token); err != nil {
				t.Fatal(err)
			}
			return c
		}
		select {
		case err := <-c.done:
			t.Fatalf("child exited before listening: %v\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("child did not start: %s", stderr.String())
	return nil
}

// exitCode waits for the child to exit and returns its code.
func (c *child) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case err := <-c.done:
		c.done <- err // for Cleanup
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		return 0
	case <-time.After(30 * time.Second):
		t.Fatal("child did not exit")
		return -1
	}
}

// TestConcurrentPublishersTwoProcesses publishes distinct versions and races
// for one NAME-VERSION with different bytes, from many goroutines, through
// two stores in separate processes sharing one --data folder.
func TestConcurrentPublishersTwoProcesses(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	a := servertest.Start(t, servertest.Options{Data: data})
	b := startChild(t, data, a.Key.PublicPath, "")
	clients := []*client.Client{a.Client, b.Client}

	const distinct, racers = 12, 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	results := map[string]*api.Submission{}
	racerZips := map[string][]byte{}
	publishOne := func(c *client.Client, key, file string, zip []byte) {
		defer wg.Done()
		sub, err := c.Publish(context.Background(), file, bytes.NewReader(zip), a.Key.Sign(t, zip), client.Options{Legacy: true})
		if err != nil {
			t.Errorf("%s: %v", key, err)
			return
		}
		mu.Lock()
		results[key] = sub
		mu.Unlock()
	}
	for i := 0; i < distinct; i++ {
		wg.Add(1)
		v := fmt.Sprintf("1.0.%d", i)
		go publishOne(clients[i%2], "distinct-"+v, "multi-"+v+".zip", ziptest.Package(t, "multi", v))
	}
	for i := 0; i < racers; i++ {
		wg.Add(1)
		// Every racer has different bytes: a mix-up of signature or static
		// files between racers would show.
		zip := ziptest.Package(t, "race", "2.0.0", ziptest.Entry{Name: "docs/racer.md", Body: []byte(fmt.Sprintf("racer %d\n", i))})
		key := fmt.Sprintf("racer-%d", i)
		racerZips[key] = zip
		go publishOne(clients[i%2], key, "race-2.0.0.zip", zip)
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	winners := 0
	var winner string
	for key, sub := range results {
		switch {
		case strings.HasPrefix(key, "distinct-"):
			if sub.Status != api.StatusPublished {
				t.Errorf("%s: %s %v", key, sub.Status, sub.Reasons)
			}
		case sub.Status == api.StatusPublished:
			winners++
			winner = key
		default:
			if sub.Status != api.StatusRejected || len(sub.Reasons) != 1 || sub.Reasons[0].Check != "duplicate" {
				t.Errorf("%s: %s %+v, want rejected as duplicate", key, sub.Status, sub.Reasons)
			}
		}
	}
	if winners != 1 {
		t.Fatalf("%d racers won, want exactly 1", winners)
	}
	published := map[string][]byte{results[winner].ID: racerZips[winner]}
	for key, sub := range results {
		if strings.HasPrefix(key, "distinct-") {
			published[sub.ID] = ziptest.Package(t, "multi", strings.TrimPrefix(key, "distinct-"))
		}
	}
	assertAuditConsistent(t, a, published)
	// Both processes converge on an index with every package, and serve the
	// winner's bytes with the winner's signature and static files.
	for _, base := range []string{a.URL, b.URL} {
		s := &servertest.Store{URL: base}
		for i := 0; i < distinct; i++ {
			s.WaitVisible(t, "multi", fmt.Sprintf("1.0.%d", i))
		}
		s.WaitVisible(t, "race", "2.0.0")
		if got := searchIDs(t, s, "?all=true"); len(got) != distinct+1 {
			t.Errorf("%s /search?all=true has %d entries, want %d: %v", base, len(got), distinct+1, got)
		}
		_, zip := s.Get(t, "/epr/race/race-2.0.0.zip")
		if !bytes.Equal(zip, racerZips[winner]) {
			t.Fatalf("%s serves a zip that is not the winner's", base)
		}
		_, sig := s.Get(t, "/epr/race/race-2.0.0.zip.sig")
		if _, err := a.Key.Keyring.Verify(bytes.NewReader(zip), bytes.NewReader(sig)); err != nil {
			t.Fatalf("%s: served signature does not match served zip: %v", base, err)
		}
		_, doc := s.Get(t, "/package/race/2.0.0/docs/racer.md")
		if want := "racer " + strings.TrimPrefix(winner, "racer-") + "\n"; string(doc) != want {
			t.Fatalf("%s: static file %q is not the winner's (%q)", base, doc, want)
		}
	}
}

// TestCrashConsistency kills a store at each write step of a publication,
// checks that nothing is half-visible, restarts it, and checks that the
// publication completes.
func TestCrashConsistency(t *testing.T) {
	steps := []string{"claimed", "static", "statics", "signature", "document", "audit", "zip", "recorded", "dequeued"}
	key := servertest.Start(t, servertest.Options{Memory: true}).Key
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			c := startChild(t, data, key.PublicPath, step)
			zip := ziptest.Package(t, "crash", "1.0.0")
			// The submission dies with the process: the client may see an
			// error or not, depending on when.
			_, _ = c.Client.Publish(context.Background(), "crash-1.0.0.zip", bytes.NewReader(zip), key.Sign(t, zip), client.Options{Legacy: true})
			if code := c.exitCode(t); code != crashExit {
				t.Fatalf("child exited %d, want the injected crash %d", code, crashExit)
			}
			assertNoHalfPackage(t, data)

			s := servertest.Start(t, servertest.Options{Data: data, Key: key})
			s.WaitVisible(t, "crash", "1.0.0")
			_, got := s.Get(t, "/epr/crash/crash-1.0.0.zip")
			if !bytes.Equal(got, zip) {
				t.Fatal("recovered zip differs")
			}
			for _, e := range ziptest.PackageEntries("crash", "1.0.0") {
				rel := strings.TrimPrefix(e.Name, "crash-1.0.0/")
				if rel == "" || strings.HasSuffix(rel, "/") || strings.ContainsAny(rel, " []") {
					continue
				}
				if _, body := s.Get(t, "/package/crash/1.0.0/"+rel); !bytes.Equal(body, e.Body) {
					t.Errorf("static %s differs after recovery", rel)
				}
			}
			assertNoHalfPackage(t, data)
			waitQueueEmpty(t, s)
			sub := onlySubmission(t, s)
			if sub.Status != api.StatusPublished {
				t.Fatalf("after recovery the submission is %s %+v, want published", sub.Status, sub.Reasons)
			}
			assertAuditConsistent(t, s, map[string][]byte{sub.ID: zip})
		})
	}
}

// assertNoHalfPackage checks the invariant on the raw buckets: a zip exists
// only with its signature, its static files and its document.
func assertNoHalfPackage(t *testing.T, data string) {
	t.Helper()
	pub := filepath.Join(data, "public")
	zip := filepath.Join(pub, "artifacts/packages/crash-1.0.0.zip")
	if _, err := os.Stat(zip); err != nil {
		return // not published: nothing is visible (the index only lists zips)
	}
	for _, rel := range []string{"artifacts/packages/crash-1.0.0.zip.sig", "artifacts/static/crash-1.0.0/manifest.yml", "artifacts/static/crash-1.0.0/docs/README.md", "artifacts/static/crash-1.0.0/img/[Logs] Screen shot.png"} {
		if _, err := os.Stat(filepath.Join(pub, rel)); err != nil {
			t.Fatalf("zip is visible without %s", rel)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "internal/pkgstore/packages/crash-1.0.0.json")); err != nil {
		t.Fatal("zip is visible without its package document")
	}
	if _, err := os.Stat(filepath.Join(data, "internal/pkgstore/revisions/crash-1.0.0.json")); err != nil {
		t.Fatal("zip is visible without its provenance record")
	}
	if recs, _ := filepath.Glob(filepath.Join(data, "internal/pkgstore/audit/*/*~published~crash~1.0.0~*.json")); len(recs) != 1 {
		t.Fatalf("zip is visible with %d published audit records, want 1", len(recs))
	}
}

func waitQueueEmpty(t *testing.T, s *servertest.Store) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ents, _ := os.ReadDir(filepath.Join(s.Data, "internal", strings.TrimSuffix(storage.QueuePrefix, "/")))
		if len(ents) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("queue not emptied after recovery")
}

// TestRecoverLeavesLiveWorkAlone: a second store's queue scan, while the
// first store is in the middle of a publication, must not work on it.
func TestRecoverLeavesLiveWorkAlone(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	reached, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	a := servertest.Start(t, servertest.Options{Data: data, Configure: func(c *server.Config) {
		c.AfterStep = func(step string) {
			if step == "statics" {
				once.Do(func() { close(reached); <-release })
			}
		}
	}})
	var mu sync.Mutex
	var bSteps []string
	b := servertest.Start(t, servertest.Options{Data: data, Key: a.Key, Configure: func(c *server.Config) {
		c.AfterStep = func(step string) { mu.Lock(); bSteps = append(bSteps, step); mu.Unlock() }
	}})
	zip := ziptest.Package(t, "leased", "1.0.0")
	done := make(chan *api.Submission, 1)
	go func() { done <- a.Publish(t, "leased-1.0.0.zip", zip, client.Options{Legacy: true}) }()
	select {
	case <-reached:
	case <-time.After(20 * time.Second):
		t.Fatal("store A never reached the statics step")
	}
	b.Server.Publisher.Recover(context.Background())
	time.Sleep(500 * time.Millisecond) // give B's workers every chance to misbehave
	mu.Lock()
	if len(bSteps) > 0 {
		t.Fatalf("store B worked on A's submission: steps %v", bSteps)
	}
	mu.Unlock()
	close(release)
	sub := <-done
	if sub.Status != api.StatusPublished || sub.Attempts != 1 {
		t.Fatalf("outcome %s after %d attempts, want published after 1", sub.Status, sub.Attempts)
	}
	a.WaitVisible(t, "leased", "1.0.0")
}

// TestRetryRefusedAfterCrashCleansUp: a publication dies after writing its
// static files; when it is retried the store no longer trusts its key (the
// keyring was rotated meanwhile), so it is refused, and what the first
// attempt wrote must go.
func TestRetryRefusedAfterCrashCleansUp(t *testing.T) {
	oldKey := servertest.Start(t, servertest.Options{Memory: true}).Key
	for _, step := range []string{"document", "audit"} {
		t.Run(step, func(t *testing.T) { retryRefusedAfterCrash(t, oldKey, step) })
	}
}

func retryRefusedAfterCrash(t *testing.T, oldKey *sigtest.Key, step string) {
	data := filepath.Join(t.TempDir(), "data")
	c := startChild(t, data, oldKey.PublicPath, step)
	zip := ziptest.Package(t, "rotated", "1.0.0")
	_, _ = c.Client.Publish(context.Background(), "rotated-1.0.0.zip", bytes.NewReader(zip), oldKey.Sign(t, zip), client.Options{Legacy: true})
	if code := c.exitCode(t); code != crashExit {
		t.Fatalf("child exited %d", code)
	}
	if _, err := os.Stat(filepath.Join(data, "public/artifacts/static/rotated-1.0.0/manifest.yml")); err != nil {
		t.Fatalf("the crashed attempt should have left static files: %v", err)
	}
	s := servertest.Start(t, servertest.Options{Data: data}) // a new key: the old one is no longer trusted
	waitQueueEmpty(t, s)
	sub := onlySubmission(t, s)
	if sub.Status != api.StatusRejected || len(sub.Reasons) != 1 || sub.Reasons[0].Check != "signature" {
		t.Fatalf("retry outcome: %s %+v", sub.Status, sub.Reasons)
	}
	if keys := publicKeys(t, s.Server.Buckets.Public, "rotated-1.0.0"); len(keys) > 0 {
		t.Fatalf("refused retry left %v", keys)
	}
	// The records written before the zip that never came go too: the
	// audit log says received, then refused.
	assertAuditConsistent(t, s, nil)
	if _, err := os.Stat(filepath.Join(data, "internal/pkgstore/revisions/rotated-1.0.0.json")); !os.IsNotExist(err) {
		t.Fatalf("refused retry left its provenance record: %v", err)
	}
}

// onlySubmission returns the store's one submission record.
func onlySubmission(t *testing.T, s *servertest.Store) *api.Submission {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.Data, "internal", strings.TrimSuffix(storage.SubmissionsPrefix, "/")))
	if err != nil || len(ents) != 1 {
		t.Fatalf("submissions: %v (%d records)", err, len(ents))
	}
	sub, err := s.Server.Publisher.Status(context.Background(), strings.TrimSuffix(ents[0].Name(), ".json"))
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// assertAuditConsistent checks the audit log against the buckets: every
// submission has one received record and one outcome record; the published
// ones are exactly the given submissions, with their zips' sha256, and
// every published zip has its record.
func assertAuditConsistent(t *testing.T, s *servertest.Store, published map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	recs, err := s.Server.Audit.All(ctx, audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	events := map[string][]audit.Event{}
	pubRecs := map[string]audit.Record{}
	for _, r := range recs {
		events[r.Submission] = append(events[r.Submission], r.Event)
		if r.Event == audit.Published {
			pubRecs[r.Submission] = r
		}
	}
	for sub, evs := range events {
		if len(evs) != 2 || evs[0] != audit.Received || (evs[1] != audit.Published && evs[1] != audit.Refused) {
			t.Errorf("submission %s has records %v, want received then published or refused", sub, evs)
		}
	}
	if len(pubRecs) != len(published) {
		t.Errorf("%d published records, want %d", len(pubRecs), len(published))
	}
	for sub, zip := range published {
		r, ok := pubRecs[sub]
		sum := sha256.Sum256(zip)
		if !ok || r.SHA256 != hex.EncodeToString(sum[:]) || r.Fingerprint != s.Key.Fingerprint || r.Token != "publish-token" {
			t.Errorf("published record of %s: %+v (found %v)", sub, r, ok)
		}
	}
	zips, err := index.ListPublished(ctx, s.Server.Buckets.Public)
	if err != nil {
		t.Fatal(err)
	}
	for id := range zips {
		n := 0
		for _, r := range pubRecs {
			if r.Package == id.Name && r.Version == id.Version {
				n++
			}
		}
		if n != 1 {
			t.Errorf("published zip %s has %d published records, want 1", id, n)
		}
	}
}

// TestKill9WhilePublishing kills (SIGKILL) a store in the middle of a queue
// of publications, restarts a store on its folder, and checks the audit log
// against the buckets once everything is final: every submission has its
// received and outcome records, every published zip its one published
// record with the zip's sha256.
func TestKill9WhilePublishing(t *testing.T) {
	key := servertest.Start(t, servertest.Options{Memory: true}).Key
	data := filepath.Join(t.TempDir(), "data")
	c := startChild(t, data, key.PublicPath, "")
	zips := map[string][]byte{}
	for i := range 40 {
		v := fmt.Sprintf("1.0.%d", i)
		zips["killed-"+v+".zip"] = ziptest.Package(t, "killed", v)
	}
	// All submitted at once, and all enqueued before the kill (a request
	// cut short would be an upload without submission, dropped an hour
	// later).
	var (
		ids []string
		mu  sync.Mutex
		wg  sync.WaitGroup
	)
	for name, zip := range zips {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sub, err := c.Client.Submit(context.Background(), name, bytes.NewReader(zip), key.Sign(t, zip), client.Options{Legacy: true})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			ids = append(ids, sub.ID)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// Kill once the first publication is through: the rest are queued or
	// half-way.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m, _ := filepath.Glob(filepath.Join(data, "public/artifacts/packages/killed-*.zip")); len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing published after 30s")
		}
		time.Sleep(time.Millisecond)
	}
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	c.exitCode(t)
	done, _ := filepath.Glob(filepath.Join(data, "public/artifacts/packages/killed-*.zip"))
	t.Logf("killed with %d of %d published", len(done), len(ids))

	s := servertest.Start(t, servertest.Options{Data: data, Key: key})
	published := map[string][]byte{}
	for _, id := range ids {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		sub, err := s.Client.Wait(ctx, id)
		cancel()
		if err != nil {
			t.Fatalf("submission %s: %v", id, err)
		}
		if sub.Status != api.StatusPublished {
			t.Fatalf("submission %s (%s) ended %s %+v", id, sub.Package, sub.Status, sub.Reasons)
		}
		published[id] = zips[sub.Package]
	}
	assertAuditConsistent(t, s, published)
}
