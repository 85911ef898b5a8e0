package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/client/exitcode"
	"pkgstore/internal/publish"
	"pkgstore/internal/publish/index"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/ziptest"
)

// childProc is the test binary run as `pkgstore ARGS...` in a process of
// its own (TestMain, PKGSTORE_AS_CLI=1).
type childProc struct {
	name           string
	cmd            *exec.Cmd
	stdout, stderr lockedBuffer
}

// lockedBuffer is a bytes.Buffer a child writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startChild(t *testing.T, name string, args ...string) *childProc {
	t.Helper()
	c := &childProc{name: name, cmd: exec.Command(os.Args[0], args...)}
	c.cmd.Env = append(os.Environ(), "PKGSTORE_AS_CLI=1")
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			c.cmd.Process.Kill()
			c.cmd.Wait()
		}
	})
	return c
}

// wait returns the exit code, failing the test past d.
func (c *childProc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(d):
		c.cmd.Process.Kill()
		<-done
		t.Fatalf("%s still running after %s; stderr:\n%s", c.name, d, c.stderr.String())
	}
	return c.cmd.ProcessState.ExitCode()
}

var outcomeLine = regexp.MustCompile(`^(published|refused) (\S+) \(submission (\S+?)[,)]`)

// outcomesOf parses `job publish` output: submission id -> "status name".
func outcomesOf(t *testing.T, out string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if g := outcomeLine.FindStringSubmatch(line); g != nil {
			if _, dup := m[g[3]]; dup {
				t.Errorf("submission %s reported twice:\n%s", g[3], out)
			}
			m[g[3]] = g[1] + " " + g[2]
		}
	}
	return m
}

// TestJobsRaceServe: 36 candidates queued with `pkgstore publish --queue`,
// then three `pkgstore job publish` processes and a `pkgstore serve`
// racing over the same folders. Every distinct revision is published
// exactly once, duplicates and a forged signature are refused, each
// submission has exactly one outcome (in its record and in the audit log),
// every job reports the same outcome for every submission, the queue and
// the leases are empty, and `pkgstore job index` then indexes exactly the
// published revisions.
func TestJobsRaceServe(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four processes")
	}
	data := t.TempDir()
	for _, sub := range []string{"public", "internal"} {
		if err := os.MkdirAll(filepath.Join(data, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	key, forger := sigtest.NewKey(t, "trusted"), sigtest.NewKey(t, "forger")
	dir := t.TempDir()
	const revisions, twice = 30, 5
	want := map[string]string{} // submission id -> "status name"
	queue := func(name, version string, signer *sigtest.Key) {
		t.Helper()
		// Some incompressible bytes, so that each publication takes
		// long enough for every process to join the race.
		noise := make([]byte, 256<<10)
		rand.Read(noise)
		zip := ziptest.Package(t, name, version, ziptest.Entry{Name: "noise.bin", Body: noise})
		p := filepath.Join(dir, fmt.Sprintf("%s-%s.zip", name, version))
		writeFile(t, p, zip)
		writeFile(t, p+".sig", signer.Sign(t, zip))
		stdout, stderr, code := runCLI(t, "publish", p, "--queue", data, "--legacy")
		id := strings.TrimSpace(stdout)
		if code != 0 || !strings.Contains(stderr, "queued "+filepath.Base(p)+" as submission "+id) {
			t.Fatalf("publish --queue: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		status := "published"
		if signer == forger {
			status = "refused"
		}
		want[id] = status + " " + name + "-" + version
	}
	for i := 1; i <= revisions; i++ {
		queue("race", fmt.Sprintf("1.0.%d", i), key)
	}
	for i := 1; i <= twice; i++ {
		queue("race", fmt.Sprintf("1.0.%d", i), key) // the same revision again
	}
	queue("forged", "1.0.0", forger)

	// Two jobs drain whatever they find queued; the third, as a CI step
	// does, names the submissions it waits for (those the others or the
	// serve take before it lists the queue are still its to report).
	jobArgs := []string{"job", "publish", "--data", data, "--keyring", key.PublicPath, "--log-level", "info", "--timeout", "2m"}
	ciArgs := slices.Clone(jobArgs)
	for id := range want {
		ciArgs = append(ciArgs, "--submission", id)
	}
	// The serve takes the queue at its start; the jobs start as it works.
	serve := startServe(t, nil, "--data", data, "--keyring", key.PublicPath)
	jobs := []*childProc{
		startChild(t, "job 1", jobArgs...),
		startChild(t, "job 2", jobArgs...),
		startChild(t, "job 3 (--submission)", ciArgs...),
	}

	var reports []map[string]string
	var codes []int
	for _, j := range jobs {
		codes = append(codes, j.wait(t, 3*time.Minute))
		reports = append(reports, outcomesOf(t, j.stdout.String()))
	}
	serve.stop(t)

	// Which revision of a pair published first is the race's: settle the
	// expectation from the records, then hold everything else to it.
	ctx := context.Background()
	b, err := storage.Open(ctx, storage.Config{DataDir: data, MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	publishedBy := map[string][]string{} // name-version -> submissions
	for id, w := range want {
		raw, err := b.Internal.ReadAll(ctx, storage.SubmissionKey(id))
		if err != nil {
			t.Fatalf("record of %s: %v", id, err)
		}
		var rec struct {
			Status, Name, Version string
			Reasons               []struct{ Check string }
		}
		if err := json.Unmarshal(raw, &rec); err != nil {
			t.Fatal(err)
		}
		nv := rec.Name + "-" + rec.Version
		switch rec.Status {
		case "published":
			publishedBy[nv] = append(publishedBy[nv], id)
		case "rejected":
			if strings.HasPrefix(w, "published") && (len(rec.Reasons) != 1 || rec.Reasons[0].Check != "duplicate") {
				t.Errorf("%s (%s) refused for %v, want published or refused as a duplicate", id, nv, rec.Reasons)
			}
			want[id] = "refused " + nv
		default:
			t.Errorf("%s (%s) is %s, want final", id, nv, rec.Status)
		}
	}
	for i := 1; i <= revisions; i++ {
		nv := fmt.Sprintf("race-1.0.%d", i)
		if len(publishedBy[nv]) != 1 {
			t.Errorf("%s published by %d submissions %v, want exactly one", nv, len(publishedBy[nv]), publishedBy[nv])
		}
	}
	if len(publishedBy) != revisions {
		t.Errorf("published revisions %v, want the %d race ones", publishedBy, revisions)
	}
	for i, r := range reports {
		j := jobs[i]
		if i == 2 && len(r) != len(want) {
			t.Errorf("%s reported %d submissions, want all %d", j.name, len(r), len(want))
		}
		refused := false
		for id, got := range r {
			if got != want[id] {
				t.Errorf("%s reported %s as %q, its record says %q", j.name, id, got, want[id])
			}
			refused = refused || strings.HasPrefix(got, "refused")
		}
		if wantCode := map[bool]int{false: 0, true: exitcode.Refused}[refused]; codes[i] != wantCode {
			t.Errorf("%s: exit %d, want %d; stdout:\n%s\nstderr:\n%s", j.name, codes[i], wantCode, j.stdout.String(), j.stderr.String())
		}
	}
	// The public bucket holds exactly the published zips.
	objs, err := b.Public.ListAll(ctx, &storage.ListOptions{Prefix: storage.PackagesPrefix})
	if err != nil {
		t.Fatal(err)
	}
	var zips []string
	for _, o := range objs {
		if strings.HasSuffix(o.Key, ".zip") {
			zips = append(zips, strings.TrimSuffix(strings.TrimPrefix(o.Key, storage.PackagesPrefix), ".zip"))
		}
	}
	if len(zips) != revisions {
		t.Errorf("public zips %v, want %d", zips, revisions)
	}
	for _, prefix := range []string{storage.QueuePrefix, storage.OwnPrefix + "leases/"} {
		if left, _ := b.Internal.ListAll(ctx, &storage.ListOptions{Prefix: prefix}); len(left) != 0 {
			t.Errorf("%s not empty: %v", prefix, left)
		}
	}

	// The audit log: per submission one receipt and one outcome.
	stdout, stderr, code := runCLI(t, "audit", "--data", data, "--format", "json")
	if code != 0 {
		t.Fatalf("audit: exit %d: %s", code, stderr)
	}
	var recs []struct{ Submission, Event string }
	if err := json.Unmarshal([]byte(stdout), &recs); err != nil {
		t.Fatalf("audit JSON: %v\n%s", err, stdout)
	}
	events := map[string][]string{}
	for _, r := range recs {
		events[r.Submission] = append(events[r.Submission], r.Event)
	}
	for id, w := range want {
		ev := events[id]
		slices.Sort(ev)
		outcome := strings.Fields(w)[0]
		wantEv := []string{outcome, "received"}
		slices.Sort(wantEv)
		if !slices.Equal(ev, wantEv) {
			t.Errorf("audit of %s (%s): %v, want one receipt and one %s", id, w, ev, outcome)
		}
	}
	if len(recs) != 2*len(want) {
		t.Errorf("%d audit records, want %d", len(recs), 2*len(want))
	}

	// One indexing pass: the index holds exactly the published revisions.
	if _, stderr, code := runCLI(t, "job", "index", "--data", data); code != 0 {
		t.Fatalf("job index: exit %d: %s", code, stderr)
	}
	cursor, err := index.ReadCursor(ctx, b.Internal)
	if err != nil {
		t.Fatal(err)
	}
	var indexed []string
	if err := index.ReadAll(ctx, b.Internal, cursor, func(e index.Entry) error {
		indexed = append(indexed, e.ID.String())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(indexed)
	slices.Sort(zips)
	if !slices.Equal(indexed, zips) {
		t.Errorf("index at %s holds %v, want the published %v", cursor, indexed, zips)
	}

	// Each submission was finished by exactly one process (which one is
	// the race's: logged).
	finishedBy := map[string][]string{}
	finishedLine := regexp.MustCompile(`msg="submission finished" submission=(\S+)`)
	for _, j := range jobs {
		n := 0
		for _, g := range finishedLine.FindAllStringSubmatch(j.stderr.String(), -1) {
			finishedBy[g[1]] = append(finishedBy[g[1]], j.name)
			n++
		}
		t.Logf("%s finished %d submissions", j.name, n)
	}
	n := 0
	for _, r := range serve.Logs() {
		if r["message"] == "submission finished" {
			id, _ := r["submission"].(string)
			finishedBy[id] = append(finishedBy[id], "serve")
			n++
		}
	}
	t.Logf("serve finished %d submissions", n)
	for id := range want {
		if len(finishedBy[id]) != 1 {
			t.Errorf("submission %s finished by %v, want exactly one process", id, finishedBy[id])
		}
	}
	if len(finishedBy) != len(want) {
		t.Errorf("%d submissions finished, want %d", len(finishedBy), len(want))
	}
}

// TestQueueAndJobCommands: `publish --queue` and `job publish` step by
// step over one store: their output and exit codes (publish --queue: 0
// queued, 1 refused before queueing, 2 usage or bucket error; job publish:
// 0 all published, 1 something refused, 2 usage or bucket error).
func TestQueueAndJobCommands(t *testing.T) {
	data := t.TempDir()
	for _, sub := range []string{"public", "internal"} {
		os.MkdirAll(filepath.Join(data, sub), 0o755)
	}
	key := sigtest.NewKey(t, "trusted")
	dir := t.TempDir()
	pkg := func(name, version string, sig []byte) string {
		zip := ziptest.Package(t, name, version)
		p := writeFile(t, filepath.Join(dir, name+"-"+version+".zip"), zip)
		if sig == nil {
			sig = key.Sign(t, zip)
		}
		if len(sig) > 0 {
			writeFile(t, p+".sig", sig)
		}
		return p
	}
	good, good2, dry := pkg("good", "1.0.0", nil), pkg("good", "2.0.0", nil), pkg("dry", "1.0.0", nil)
	unsigned := pkg("unsigned", "1.0.0", []byte{})
	huge := pkg("huge", "1.0.0", bytes.Repeat([]byte("x"), 65<<10))
	job := []string{"job", "publish", "--data", data, "--keyring", key.PublicPath}
	var lastID string
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  []string // each in stdout+stderr
	}{
		{"queue into a folder that does not exist", []string{"publish", good, "--queue", filepath.Join(dir, "nope")}, exitcode.Unreachable, []string{"does not exist"}},
		{"queue with a registry", []string{"publish", good, "--queue", data, "--registry", "http://127.0.0.1:1"}, 2, []string{"--registry and --token do not go with it"}},
		{"queue a bad file name", []string{"publish", writeFile(t, filepath.Join(dir, "x.zip"), []byte("PK")), "--queue", data}, 2, []string{"NAME-VERSION.zip"}},
		{"queue without a signature file", []string{"publish", unsigned, "--queue", data}, 2, []string{"neither"}},
		{"queue a signature over the limit", []string{"publish", huge, "--queue", data}, 1, []string{"refused huge-1.0.0.zip", "signature file is"}},
		{"queue", []string{"publish", good, "--queue", data, "--legacy"}, 0, []string{"queued good-1.0.0.zip as submission"}},
		{"queue unsigned", []string{"publish", unsigned, "--queue", "file://" + filepath.Join(data, "internal"), "--unsigned", "--legacy"}, 0, nil},
		{"job on a missing store", []string{"job", "publish", "--data", filepath.Join(dir, "nope")}, exitcode.Unreachable, []string{"does not exist"}},
		{"job: one published, one refused", job, 1, []string{
			"published good-1.0.0 (submission ", "refused unsigned-1.0.0 (submission ",
			"  signature: unsigned-1.0.0.zip.sig: no signature was supplied and signatures are required",
			"2 submissions: 1 published, 1 refused, 0 not finished"}},
		{"job over an empty queue", job, 0, []string{"the queue is empty: nothing to publish"}},
		{"queue a dry run", []string{"publish", dry, "--queue", data, "--dry-run", "--legacy"}, 0, nil},
		{"queue another", []string{"publish", good2, "--queue", data, "--legacy"}, 0, nil},
		{"job on the last one only", append(slices.Clone(job), "--submission", "LAST"), 0, []string{"published good-2.0.0", "1 submissions: 1 published"}},
		{"job: the dry run passes, nothing to index", append(slices.Clone(job), "--index"), 0, []string{"dry run passed: dry-1.0.0 would be published"}},
		{"job on an id that is none", append(slices.Clone(job), "--submission", "nonsense"), 2, []string{"unknown submission nonsense"}},
		{"job index", []string{"job", "index", "--data", data}, 0, []string{"new cursor", "2 packages (2 added, 0 removed)"}},
		{"queue a third", []string{"publish", pkg("good", "3.0.0", nil), "--queue", data, "--legacy"}, 0, nil},
		{"job with --index", append(slices.Clone(job), "--index"), 0, []string{"published good-3.0.0", "indexed: cursor ", "3 packages (1 added, 0 removed)"}},
		{"index, the alias", []string{"index", "--data", data}, 0, []string{"index up to date", "3 packages"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := slices.Clone(tc.args)
			for i, a := range args {
				if a == "LAST" {
					args[i] = lastID
				}
			}
			stdout, _ := runCLIWant(t, args, tc.code, tc.out)
			if args[0] == "publish" && tc.code == 0 {
				// The id alone on stdout, for a CI script to keep.
				lastID = strings.TrimSpace(stdout)
				if !regexp.MustCompile(`^\d{19}-[0-9a-f]{12}$`).MatchString(lastID) {
					t.Errorf("stdout %q is not a submission id", stdout)
				}
			}
		})
	}
}

// TestPrintOutcomes: job publish's lines and exit status for each mix of
// outcomes; an unfinished submission outranks a refusal (the run is
// incomplete: run it again).
func TestPrintOutcomes(t *testing.T) {
	pub := publish.Outcome{ID: "1", Submission: &api.Submission{ID: "1", Name: "a", Version: "1.0.0", Status: api.StatusPublished, SHA256: "ab"}}
	dry := publish.Outcome{ID: "2", Submission: &api.Submission{ID: "2", Name: "b", Version: "1.0.0", Status: api.StatusPassed}}
	ref := publish.Outcome{ID: "3", Submission: &api.Submission{ID: "3", Name: "c", Version: "1.0.0", Status: api.StatusRejected, Reasons: []api.Reason{
		{Check: api.CheckSignature, File: "c-1.0.0.zip.sig", Message: "bad"}, {Check: api.CheckRoot, File: "c-1.0.0.zip", Message: "two roots"}}}}
	late := publish.Outcome{ID: "4", Submission: &api.Submission{ID: "4", Name: "d", Version: "1.0.0", Status: api.StatusProcessing}, Err: fmt.Errorf("%w: processing", publish.ErrNotFinal)}
	unknown := publish.Outcome{ID: "x", Err: fmt.Errorf("%w: %q", publish.ErrUnknownSubmission, "x")}
	for _, tc := range []struct {
		name string
		out  []publish.Outcome
		code int
		want []string
	}{
		{"empty queue", nil, 0, []string{"the queue is empty: nothing to publish"}},
		{"published and passed", []publish.Outcome{pub, dry}, 0, []string{
			"published a-1.0.0 (submission 1, sha256 ab)", "dry run passed: b-1.0.0 would be published (submission 2)",
			"2 submissions: 2 published, 0 refused, 0 not finished"}},
		{"refused", []publish.Outcome{pub, ref}, exitcode.Refused, []string{
			"refused c-1.0.0 (submission 3):\n  signature: c-1.0.0.zip.sig: bad\n  root: c-1.0.0.zip: two roots\n"}},
		{"refused and unfinished", []publish.Outcome{ref, late}, exitcode.Unreachable, []string{
			"not finished d-1.0.0 (submission 4): not final when the job stopped: processing"}},
		{"unknown id", []publish.Outcome{pub, unknown}, exitcode.Usage, []string{"unknown submission x: "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := printOutcomes(&buf, tc.out)
			code := 0
			var ee *exitError
			if errors.As(err, &ee) {
				code = ee.Code
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, buf.String())
				}
			}
		})
	}
}

// TestJobKilledMidDrain: a `job publish` killed (SIGKILL) in the middle of
// its drain leaves no half publication behind: the next job, naming every
// submission, takes over the dead job's leases at once (same host, process
// gone), and every revision ends published exactly once with its
// signature, the queue and the leases empty.
func TestJobKilledMidDrain(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	data := t.TempDir()
	for _, sub := range []string{"public", "internal"} {
		os.MkdirAll(filepath.Join(data, sub), 0o755)
	}
	key := sigtest.NewKey(t, "trusted")
	dir := t.TempDir()
	const revisions = 20
	var ids []string
	for i := range revisions {
		noise := make([]byte, 256<<10)
		rand.Read(noise)
		zip := ziptest.Package(t, "killed", fmt.Sprintf("1.0.%d", i), ziptest.Entry{Name: "noise.bin", Body: noise})
		p := writeFile(t, filepath.Join(dir, fmt.Sprintf("killed-1.0.%d.zip", i)), zip)
		writeFile(t, p+".sig", key.Sign(t, zip))
		stdout, stderr, code := runCLI(t, "publish", p, "--queue", data, "--legacy")
		if code != 0 {
			t.Fatalf("publish --queue: exit %d: %s", code, stderr)
		}
		ids = append(ids, strings.TrimSpace(stdout))
	}
	args := []string{"job", "publish", "--data", data, "--keyring", key.PublicPath, "--log-level", "info"}
	first := startChild(t, "job 1", args...)
	// Killed once it has published something: the rest is in its
	// workers' hands or still queued.
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(first.stderr.String(), "submission finished") {
		if time.Now().After(deadline) {
			t.Fatalf("job 1 published nothing in a minute:\n%s", first.stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	first.cmd.Process.Kill()
	first.wait(t, 10*time.Second)
	before := strings.Count(first.stderr.String(), "submission finished")
	if before >= revisions {
		t.Fatalf("job 1 finished all %d submissions before the kill: nothing was cut", before)
	}

	for _, id := range ids {
		args = append(args, "--submission", id)
	}
	second := startChild(t, "job 2", args...)
	if code := second.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("job 2: exit %d\n%s\n%s", code, second.stdout.String(), second.stderr.String())
	}
	if !strings.Contains(second.stdout.String(), fmt.Sprintf("%d submissions: %d published, 0 refused, 0 not finished", revisions, revisions)) {
		t.Fatalf("job 2 output:\n%s", second.stdout.String())
	}
	t.Logf("the killed job finished %d submissions before the kill", before)

	ctx := context.Background()
	b, err := storage.Open(ctx, storage.Config{DataDir: data, MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	objs, err := b.Public.ListAll(ctx, &storage.ListOptions{Prefix: storage.PackagesPrefix})
	if err != nil {
		t.Fatal(err)
	}
	var zips, sigs int
	for _, o := range objs {
		switch {
		case strings.HasSuffix(o.Key, ".zip"):
			zips++
		case strings.HasSuffix(o.Key, ".zip.sig"):
			sigs++
		}
	}
	if zips != revisions || sigs != revisions {
		t.Errorf("%d zips and %d signatures published, want %d of each", zips, sigs, revisions)
	}
	for _, prefix := range []string{storage.QueuePrefix, storage.OwnPrefix + "leases/"} {
		if left, _ := b.Internal.ListAll(ctx, &storage.ListOptions{Prefix: prefix}); len(left) != 0 {
			t.Errorf("%s not empty: %v", prefix, left)
		}
	}
}
