package logcheck_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"pkgstore/internal/client/logcheck"
	"pkgstore/internal/govern/translog"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/registry"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/logtest"
)

type fixture struct {
	b      *storage.Bucket
	signer note.Signer
	ver    note.Verifier
	url    string
	dir    string
	t      *testing.T
}

func sha(i int) string { return fmt.Sprintf("%064x", i+1) }

func entry(i int) translog.Entry {
	return translog.Entry{Event: translog.EventPublish, Name: "pkg", Version: fmt.Sprintf("1.0.%d", i), SHA256: sha(i), Size: int64(100 + i), Time: time.Unix(1700000000+int64(i), 0).UTC()}
}

func key(t *testing.T) (note.Signer, note.Verifier) {
	_, s, v := logtest.NewKey(t, "logcheck.test")
	return s, v
}

// newFixture appends entries 0..n-1 to a log in a folder and serves it
// as the store does; every request reads the bucket afresh (a new Log),
// so that rewrites in the bucket are what clients see.
func newFixture(t *testing.T, n int, s note.Signer, v note.Verifier) *fixture {
	return serve(t, t.TempDir(), n, s, v)
}

// cloneFixture serves a copy of src's folder (a log built once, rewritten
// differently by each test).
func cloneFixture(t *testing.T, src *fixture) *fixture {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(src.dir)); err != nil {
		t.Fatal(err)
	}
	return serve(t, dir, 0, src.signer, src.ver)
}

func serve(t *testing.T, dir string, n int, s note.Signer, v note.Verifier) *fixture {
	b, err := storage.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{b: b, signer: s, ver: v, t: t, dir: dir}
	f.append(0, n)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		registry.LogHandler(translog.New(translog.Config{Bucket: b})).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *fixture) append(from, to int) {
	f.t.Helper()
	l := translog.New(translog.Config{Bucket: f.b, Signer: f.signer})
	for i := from; i < to; i++ {
		if _, _, err := l.Append(context.Background(), entry(i)); err != nil {
			f.t.Fatal(err)
		}
	}
}

func (f *fixture) checker() *logcheck.Checker { return logcheck.New(f.url, f.ver, nil) }

func (f *fixture) rewrite(key string, change func([]byte) []byte) {
	f.t.Helper()
	ctx := context.Background()
	data, err := f.b.ReadAll(ctx, key)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.b.WriteAll(ctx, key, change(data), nil); err != nil {
		f.t.Fatal(err)
	}
}

func id(i int) packageid.ID { return entry(i).ID() }

func wantBroken(t *testing.T, err error, contains string) {
	t.Helper()
	if !errors.Is(err, logcheck.ErrBroken) || !strings.Contains(err.Error(), contains) {
		t.Fatalf("err %v, want ErrBroken mentioning %q", err, contains)
	}
}

func TestVerifyAndMonitor(t *testing.T) {
	s, v := key(t)
	f := newFixture(t, 300, s, v)
	c := f.checker()
	ctx := context.Background()
	for _, i := range []int{0, 1, 255, 256, 299} {
		lk, err := c.CheckRevision(ctx, id(i), sha(i))
		if err != nil {
			t.Fatalf("revision %d: %v", i, err)
		}
		if lk.ID != int64(i) || lk.Tree.N != 300 {
			t.Fatalf("revision %d: record %d of tree %d", i, lk.ID, lk.Tree.N)
		}
	}
	_, err := c.CheckRevision(ctx, id(3), sha(4))
	wantBroken(t, err, "the log records sha256")
	if _, err := c.CheckRevision(ctx, packageid.ID{Name: "pkg", Version: "9.9.9"}, sha(0)); !errors.Is(err, logcheck.ErrNotLogged) {
		t.Fatalf("unknown revision: %v", err)
	}
	// Another log's key does not verify this one's heads.
	_, other := key(t)
	_, err = logcheck.New(f.url, other, nil).CheckRevision(ctx, id(0), sha(0))
	wantBroken(t, err, "signed tree head")

	state := t.TempDir()
	rep, err := c.Monitor(ctx, state)
	if err != nil || rep.Records != 300 || rep.Publications != 300 {
		t.Fatalf("first monitor run: %+v %v", rep, err)
	}
	f.append(300, 520)
	rep, err = c.Monitor(ctx, state)
	if err != nil || rep.Old.N != 300 || rep.New.N != 520 {
		t.Fatalf("second monitor run: %+v %v", rep, err)
	}

	resp, err := http.Get(f.url + "/api/v1/log/tile/8/0/001.p/8")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("partial tile: %s, Cache-Control %q", resp.Status, resp.Header.Get("Cache-Control"))
	}
	for path, want := range map[string]int{"tile/8/0/003": 404, "tile/8/5/000": 404, "tile/8/0/x999/x999/x999/x999/x999/999": 404, "tile/8/data/x999/x999/x999/x999/x999/999.p/3": 404, "tile/8/0/x": 400, "lookup/pkg": 400, "lookup/pkg@1.0.1": 200, "latest": 200, "nothing": 404} {
		resp, err := http.Get(f.url + "/api/v1/log/" + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// TestRewritesDetected rewrites, in the bucket, each kind of object a
// client reads, and expects verify (CheckRevision) or the monitor to name
// the break.
func TestRewritesDetected(t *testing.T) {
	s, v := key(t)
	ctx := context.Background()
	other := func(data []byte) []byte {
		d := bytes.Replace(data, []byte("\ntime 20"), []byte("\ntime 19"), 1)
		if bytes.Equal(d, data) {
			t.Fatal("rewrite changed nothing")
		}
		return d
	}
	flip := func(data []byte) []byte { d := bytes.Clone(data); d[5] ^= 1; return d }
	base := newFixture(t, 300, s, v)

	t.Run("record in a partial tile", func(t *testing.T) {
		f := cloneFixture(t, base)
		f.rewrite(translog.RecordKey(280), other)
		_, err := f.checker().CheckRevision(ctx, id(280), sha(280))
		wantBroken(t, err, "record 280 is not in the tree")
		_, err = f.checker().Monitor(ctx, t.TempDir())
		wantBroken(t, err, "record 280")
	})
	t.Run("record under a full tile", func(t *testing.T) {
		f := cloneFixture(t, base)
		f.rewrite(translog.RecordKey(7), other)
		_, err := f.checker().CheckRevision(ctx, id(7), sha(7))
		wantBroken(t, err, "record 7 is not in the tree")
	})
	t.Run("full data tile", func(t *testing.T) {
		f := cloneFixture(t, base)
		f.rewrite(translog.TileKey(tlog.Tile{H: 8, L: -1, N: 0, W: 256}), other)
		_, err := f.checker().Monitor(ctx, t.TempDir())
		wantBroken(t, err, "does not match the tree's hash")
	})
	t.Run("full hash tile", func(t *testing.T) {
		f := cloneFixture(t, base)
		f.rewrite(translog.TileKey(tlog.Tile{H: 8, L: 0, N: 0, W: 256}), flip)
		_, err := f.checker().CheckRevision(ctx, id(3), sha(3))
		wantBroken(t, err, "inclusion of record 3")
		_, err = f.checker().Monitor(ctx, t.TempDir())
		wantBroken(t, err, "")
	})
	t.Run("history rewritten and re-signed", func(t *testing.T) {
		// The store's own key signs a history whose record 2 changed:
		// a monitor that saw the old head catches it.
		f := newFixture(t, 10, s, v)
		state := t.TempDir()
		if _, err := f.checker().Monitor(ctx, state); err != nil {
			t.Fatal(err)
		}
		g := newFixture(t, 0, s, v)
		l := translog.New(translog.Config{Bucket: g.b, Signer: s})
		for i := range 12 {
			e := entry(i)
			if i == 2 {
				e.Time = e.Time.Add(time.Second)
			}
			if _, _, err := l.Append(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		_, err := logcheck.New(g.url, v, nil).Monitor(ctx, state)
		wantBroken(t, err, "is not a prefix")
	})
}

// TestForkCaught: a store serves two different heads of one size to two
// clients; the monitor that sees both (its state from one, the store's
// answer the other) reports the fork and keeps the head it had.
func TestForkCaught(t *testing.T) {
	s, v := key(t)
	ctx := context.Background()
	a := newFixture(t, 20, s, v)
	b := newFixture(t, 19, s, v)
	e := entry(19)
	e.SHA256 = sha(1000)
	if _, _, err := translog.New(translog.Config{Bucket: b.b, Signer: s}).Append(ctx, e); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	if _, err := a.checker().Monitor(ctx, state); err != nil {
		t.Fatal(err)
	}
	_, err := b.checker().Monitor(ctx, state)
	wantBroken(t, err, "two signed tree heads of size 20")
	// The state still holds the first head: the fork is reported again.
	_, err = b.checker().Monitor(ctx, state)
	wantBroken(t, err, "forked")
}

// TestPublishedTwiceCaught: a log that records one NAME-VERSION twice
// with different bytes (records placed past the head, then signed) is
// refused by the monitor, naming the record.
func TestPublishedTwiceCaught(t *testing.T) {
	s, v := key(t)
	ctx := context.Background()
	f := newFixture(t, 5, s, v)
	e := entry(2)
	e.SHA256 = sha(77)
	text, err := e.Text()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.b.CreateIfAbsent(ctx, translog.RecordKey(5), bytes.NewReader(text), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := translog.New(translog.Config{Bucket: f.b, Signer: s}).Complete(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = f.checker().Monitor(ctx, t.TempDir())
	wantBroken(t, err, "record 5 publishes pkg-1.0.2 again")
}
