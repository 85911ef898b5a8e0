package translog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"pkgstore/internal/govern/translog"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/logtest"
	"pkgstore/internal/testkit/storagetest"
)

// The test binary doubles as a writer process (several at once, or one
// that crashes at a given step), like a serve or a job on the same bucket.
func TestMain(m *testing.M) {
	if dir := os.Getenv("TRANSLOG_CHILD_BUCKET"); dir != "" {
		os.Exit(child(dir))
	}
	os.Exit(m.Run())
}

const crashExit = 99

// child appends the events TRANSLOG_CHILD_EVENTS names (comma-separated
// versions of package "p"), crashing at TRANSLOG_CHILD_CRASH if set.
func child(bucket string) int {
	b, err := openBucket(bucket)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	signer, err := note.NewSigner(os.Getenv("TRANSLOG_CHILD_KEY"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg := translog.Config{Bucket: b, Signer: signer}
	if at := os.Getenv("TRANSLOG_CHILD_CRASH"); at != "" {
		cfg.AfterStep = func(step string) {
			if step == at {
				os.Exit(crashExit) // no deferred calls, nothing flushed: a kill -9
			}
		}
	}
	l := translog.New(cfg)
	for _, v := range strings.Split(os.Getenv("TRANSLOG_CHILD_EVENTS"), ",") {
		if _, _, err := l.Append(context.Background(), entry(v)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

// openBucket opens a folder or a bucket URL (gs://, s3://).
func openBucket(where string) (*storage.Bucket, error) {
	if strings.Contains(where, "://") {
		return storage.OpenURL(context.Background(), where)
	}
	return storage.OpenDir(where)
}

func newKey(t testing.TB) (string, note.Signer, note.Verifier) {
	t.Helper()
	return logtest.NewKey(t, "test.example")
}

func entry(version string) translog.Entry {
	return translog.Entry{Event: translog.EventPublish, Name: "p", Version: version,
		SHA256: strings.Repeat("ab", 32), Size: 10, Time: time.Now().UTC()}
}

func versionOf(i int) string { return fmt.Sprintf("1.0.%d", i) }

// checkLog checks, with tlog alone, everything a log in a bucket must be:
// the records 0..N-1 are what the signed head covers (its tree hash
// recomputed from the records), each event has one record, the head's
// signature verifies, every full tile stored is the tile of those records.
func checkLog(t *testing.T, b *storage.Bucket, v note.Verifier, wantVersions map[string]bool) tlog.Tree {
	t.Helper()
	ctx := context.Background()
	signed, err := b.ReadAll(ctx, storage.LogPrefix+"latest")
	if err != nil {
		t.Fatalf("no signed tree head: %v", err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		t.Fatalf("signed tree head: %v", err)
	}
	tree, err := tlog.ParseTree([]byte(n.Text))
	if err != nil {
		t.Fatal(err)
	}
	var stored []tlog.Hash
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	seen := map[string]int64{}
	for i := int64(0); i < tree.N; i++ {
		text, err := b.ReadAll(ctx, translog.RecordKey(i))
		if err != nil {
			t.Fatalf("record %d of %d: %v", i, tree.N, err)
		}
		e, err := translog.ParseEntry(text)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if prev, dup := seen[e.Key()]; dup {
			t.Fatalf("event %s is in records %d and %d", e.Key(), prev, i)
		}
		seen[e.Key()] = i
		hs, err := tlog.StoredHashes(i, text, hr)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
	}
	if _, err := b.ReadAll(ctx, translog.RecordKey(tree.N)); !storage.IsNotFound(err) {
		t.Errorf("record %d exists past the signed head of size %d (err %v)", tree.N, tree.N, err)
	}
	th, err := tlog.TreeHash(tree.N, hr)
	if err != nil {
		t.Fatal(err)
	}
	if th != tree.Hash {
		t.Fatalf("signed head says %s for %d records, the records hash to %s", tree.Hash, tree.N, th)
	}
	for _, tile := range tlog.NewTiles(translog.Height, 0, tree.N) {
		if tile.W != 1<<translog.Height {
			continue
		}
		got, err := b.ReadAll(ctx, translog.TileKey(tile))
		if err != nil {
			t.Fatalf("full tile %s: %v", tile.Path(), err)
		}
		if tile.L >= 0 {
			want, err := tlog.ReadTileData(tile, hr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("tile %s differs from the records' hashes", tile.Path())
			}
		}
	}
	if wantVersions != nil {
		if len(seen) != len(wantVersions) {
			t.Fatalf("%d events in the log, want %d", len(seen), len(wantVersions))
		}
		for v := range wantVersions {
			if _, ok := seen[translog.PublishKey(entry(v).ID())]; !ok {
				t.Fatalf("event of %s missing from the log", v)
			}
		}
	}
	return tree
}

func TestEntryTextRoundTrip(t *testing.T) {
	e := entry("1.2.3")
	e.Signer = "0123456789abcdef0123456789abcdef01234567"
	y := e
	y.Event, y.Generation = translog.EventYank, 2
	for _, e := range []translog.Entry{e, y} {
		text, err := e.Text()
		if err != nil {
			t.Fatal(err)
		}
		back, err := translog.ParseEntry(text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if !back.Time.Equal(e.Time) || back.Key() != e.Key() || back.SHA256 != e.SHA256 || back.Signer != e.Signer {
			t.Fatalf("round trip %+v -> %+v", e, back)
		}
	}
	bad := []translog.Entry{
		{Event: "delete", Name: "p", Version: "1.0.0", SHA256: e.SHA256, Time: e.Time},
		{Event: translog.EventPublish, Name: "p", Version: "1.0.0\nevent yank", SHA256: e.SHA256, Time: e.Time},
		{Event: translog.EventPublish, Name: "p", Version: "1.0.0", SHA256: "AB", Time: e.Time},
		{Event: translog.EventYank, Name: "p", Version: "1.0.0", SHA256: e.SHA256, Time: e.Time},
	}
	for _, e := range bad {
		if _, err := e.Text(); !errors.Is(err, translog.ErrMalformed) {
			t.Errorf("%+v: err %v, want ErrMalformed", e, err)
		}
	}
	text, _ := entry("1.0.0").Text()
	for _, mutated := range [][]byte{
		bytes.Replace(text, []byte("size 10"), []byte("size 010"), 1),
		append(append([]byte(nil), text...), "extra x\n"...),
		bytes.Replace(text, []byte("name p\n"), nil, 1),
	} {
		if _, err := translog.ParseEntry(mutated); !errors.Is(err, translog.ErrMalformed) {
			t.Errorf("%q parsed: %v", mutated, err)
		}
	}
}

// TestAppend fills more than one full tile and checks the log with tlog
// alone; appending an event again (another time, as a retry does) keeps
// its first record.
func TestAppend(t *testing.T) {
	ctx := context.Background()
	b, err := storage.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, s, v := newKey(t)
	l := translog.New(translog.Config{Bucket: b, Signer: s})
	if _, err := l.Latest(ctx); !errors.Is(err, translog.ErrNoLog) {
		t.Fatalf("empty log: %v", err)
	}
	want := map[string]bool{}
	const n = 300
	var seventh translog.Entry
	for i := range n {
		e := entry(versionOf(i))
		if i == 7 {
			seventh = e
		}
		id, _, err := l.Append(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		if id != int64(i) {
			t.Fatalf("append %d got id %d", i, id)
		}
		want[versionOf(i)] = true
	}
	again := seventh
	again.Time = again.Time.Add(time.Hour)
	id, stored, err := l.Append(ctx, again)
	if err != nil || id != 7 {
		t.Fatalf("append again: id %d, err %v", id, err)
	}
	if !stored.Time.Equal(seventh.Time) {
		t.Errorf("append again stored %+v, want the first attempt's %v", stored, seventh.Time)
	}
	tree := checkLog(t, b, v, want)
	if tree.N != n {
		t.Fatalf("tree of %d records, want %d", tree.N, n)
	}
	// Lookup and tiles as served.
	rid, text, head, err := l.Lookup(ctx, translog.PublishKey(entry(versionOf(299)).ID()))
	if err != nil || rid != 299 || head.Tree != tree {
		t.Fatalf("lookup: id %d, head %v, err %v", rid, head.Tree, err)
	}
	if e, err := translog.ParseEntry(text); err != nil || e.Version != versionOf(299) {
		t.Fatalf("lookup text %q: %v", text, err)
	}
	partial := tlog.Tile{H: 8, L: -1, N: 1, W: n - 256}
	data, err := l.Tile(ctx, partial)
	if err != nil {
		t.Fatal(err)
	}
	if got := bytes.Count(data, []byte("\n\n")); got != n-256 {
		t.Errorf("partial data tile holds %d records, want %d", got, n-256)
	}
	for _, beyond := range []tlog.Tile{{H: 8, L: -1, N: 1, W: n - 255}, {H: 8, L: 1, N: 0, W: 2}, {H: 8, L: 0, N: 2, W: 1}} {
		if _, err := l.Tile(ctx, beyond); !errors.Is(err, translog.ErrNotFound) {
			t.Errorf("tile %s beyond the tree: err %v", beyond.Path(), err)
		}
	}
	// A read-only log (a replica) serves the same and cannot append.
	ro := translog.New(translog.Config{Bucket: b})
	if h, err := ro.Latest(ctx); err != nil || h.Tree != tree {
		t.Fatalf("read-only latest: %v %v", h.Tree, err)
	}
	if _, _, err := ro.Append(ctx, entry("9.9.9")); !errors.Is(err, translog.ErrReadOnly) {
		t.Fatalf("read-only append: %v", err)
	}
}

// TestConcurrentWriters runs writers as separate Logs (each its own
// caches, like processes) on one bucket: every event is appended by two
// writers at once, and every event ends in exactly one record.
func TestConcurrentWriters(t *testing.T) {
	run := func(t *testing.T, open func() *storage.Bucket, writers, per int) {
		_, s, v := newKey(t)
		want := map[string]bool{}
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			l := translog.New(translog.Config{Bucket: open(), Signer: s})
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range per {
					// Writer w appends its own events and those of writer w+1.
					for _, k := range []int{w, (w + 1) % writers} {
						if _, _, err := l.Append(context.Background(), entry(versionOf(k*1000+i))); err != nil {
							errs <- err
							return
						}
					}
				}
			}()
			for i := range per {
				want[versionOf(w*1000+i)] = true
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		tree := checkLog(t, open(), v, want)
		if tree.N != int64(writers*per) {
			t.Fatalf("%d records, want %d", tree.N, writers*per)
		}
	}
	t.Run("folder", func(t *testing.T) {
		dir := t.TempDir()
		run(t, func() *storage.Bucket {
			b, err := storage.OpenDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}, 6, 25)
	})
	for _, be := range storagetest.Backends {
		t.Run(be.Name, func(t *testing.T) {
			url := be.Start(t).NewBucket(t)
			run(t, func() *storage.Bucket { return storagetest.Open(t, url) }, 4, 6)
		})
	}
}

func childCmd(t *testing.T, dir, skey, events, crash string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "TRANSLOG_CHILD_BUCKET="+dir, "TRANSLOG_CHILD_KEY="+skey,
		"TRANSLOG_CHILD_EVENTS="+events, "TRANSLOG_CHILD_CRASH="+crash)
	return cmd
}

// TestConcurrentProcesses: several writer processes on one folder, one
// GCS bucket (the emulator in this process, reached over loopback) and
// one S3 bucket (MinIO).
func TestConcurrentProcesses(t *testing.T) {
	run := func(t *testing.T, where string, procs, per int) {
		skey, _, v := newKey(t)
		want := map[string]bool{}
		var cmds []*exec.Cmd
		for p := range procs {
			var vs []string
			for i := range per {
				vs = append(vs, versionOf(p*1000+i), versionOf(((p+1)%procs)*1000+i))
				want[versionOf(p*1000+i)] = true
			}
			cmd := childCmd(t, where, skey, strings.Join(vs, ","), "")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("writer %d: %s", p, stderr.String())
				}
			})
			cmds = append(cmds, cmd)
		}
		for i, cmd := range cmds {
			if err := cmd.Wait(); err != nil {
				t.Fatalf("writer %d: %v", i, err)
			}
		}
		b, err := openBucket(where)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if tree := checkLog(t, b, v, want); tree.N != int64(procs*per) {
			t.Fatalf("%d records, want %d", tree.N, procs*per)
		}
	}
	t.Run("folder", func(t *testing.T) { run(t, t.TempDir(), 4, 15) })
	for _, be := range storagetest.Backends {
		t.Run(be.Name, func(t *testing.T) { run(t, be.Start(t).NewBucket(t), 3, 5) })
	}
}

// TestCrashAtEveryStep kills a writer process at each write step of an
// append that fills a tile (so that every step happens), then a retry of
// the same event and a new one must leave a complete log with each event
// once.
func TestCrashAtEveryStep(t *testing.T) {
	skey, s, v := newKey(t)
	for _, step := range []string{"event", "record", "hashes", "index", "tile", "head"} {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			b, err := storage.OpenDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			l := translog.New(translog.Config{Bucket: b, Signer: s})
			want := map[string]bool{}
			// Only the append that fills tile 0 writes a tile.
			prefill := 3
			if step == "tile" {
				prefill = 255
			}
			for i := range prefill {
				if _, _, err := l.Append(ctx, entry(versionOf(i))); err != nil {
					t.Fatal(err)
				}
				want[versionOf(i)] = true
			}
			cmd := childCmd(t, dir, skey, versionOf(prefill), step)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != crashExit {
				t.Fatalf("writer did not crash at %s: %v %s", step, err, out)
			}
			// A new process: it completes what the crash left, then the
			// retry of the crashed event, then another event.
			l2 := translog.New(translog.Config{Bucket: b, Signer: s})
			if _, err := l2.Complete(ctx); err != nil {
				t.Fatal(err)
			}
			id, _, err := l2.Append(ctx, entry(versionOf(prefill)))
			if err != nil || id != int64(prefill) {
				t.Fatalf("retry: id %d, err %v", id, err)
			}
			if id, _, err = l2.Append(ctx, entry(versionOf(prefill+1))); err != nil || id != int64(prefill+1) {
				t.Fatalf("next: id %d, err %v", id, err)
			}
			want[versionOf(prefill)], want[versionOf(prefill+1)] = true, true
			if tree := checkLog(t, b, v, want); tree.N != int64(prefill+2) {
				t.Fatalf("%d records, want %d", tree.N, prefill+2)
			}
		})
	}
}

// TestRewrittenHashesDetected: the writer refuses to extend a log whose
// stored hashes no longer match its records.
func TestRewrittenHashesDetected(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := storage.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, s, _ := newKey(t)
	l := translog.New(translog.Config{Bucket: b, Signer: s})
	for i := range 3 {
		if _, _, err := l.Append(ctx, entry(versionOf(i))); err != nil {
			t.Fatal(err)
		}
	}
	// A crashed writer's record past the head, whose hashes someone wrote wrong.
	text, _ := entry(versionOf(3)).Text()
	if err := b.CreateIfAbsent(ctx, translog.RecordKey(3), bytes.NewReader(text), nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pkgstore", "log", "hashes", fmt.Sprintf("%015d", 3)), bytes.Repeat([]byte{1}, 32*3), 0o644); err != nil {
		t.Fatal(err)
	}
	l2 := translog.New(translog.Config{Bucket: b, Signer: s})
	if _, err := l2.Complete(ctx); !errors.Is(err, translog.ErrCorrupt) {
		t.Fatalf("complete over rewritten hashes: %v, want ErrCorrupt", err)
	}

}

// BenchmarkAppend measures one append (event, record, hashes, index,
// head, one Sync) on a folder bucket, the cost the log adds to each
// publication.
func BenchmarkAppend(b *testing.B) {
	bk, err := storage.OpenDir(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	_, s, _ := newKey(b)
	l := translog.New(translog.Config{Bucket: bk, Signer: s})
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, _, err := l.Append(ctx, entry(versionOf(i))); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
