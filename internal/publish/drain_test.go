package publish

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/govern/audit"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/storagetest"
	"pkgstore/internal/testkit/ziptest"
)

// drainStore is a store on folders with a trusted key and an untrusted one.
type drainStore struct {
	b                *storage.Buckets
	trusted, foreign *sigtest.Key
}

func newDrainStore(t *testing.T, trusted, foreign *sigtest.Key) *drainStore {
	return &drainStore{b: storagetest.OpenData(t, t.TempDir()), trusted: trusted, foreign: foreign}
}

// job is a publishing job over the store: another process, as far as the
// leases are concerned (each Publisher is an instance of its own).
func (s *drainStore) job(t *testing.T) *Publisher {
	t.Helper()
	p, err := New(Config{Buckets: s.b, Keyring: s.trusted.Keyring, RequireSignatures: true, Audit: audit.New(s.b.Internal), Workers: 2, ClaimWait: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// queue uploads a candidate as `pkgstore publish --queue` does.
func (s *drainStore) queue(t *testing.T, c candidate) string {
	t.Helper()
	zip := ziptest.Package(t, c.name, c.version)
	if c.wrongRoot {
		zip = ziptest.Build(t, ziptest.Entry{Name: "other-1.0.0/manifest.yml", Body: ziptest.Manifest("other", "1.0.0")})
	}
	var sig []byte
	switch c.signer {
	case "trusted":
		sig = s.trusted.Sign(t, zip)
	case "foreign":
		sig = s.foreign.Sign(t, zip)
	}
	sub, err := Queue(context.Background(), s.b.Internal, Candidate{FileName: c.name + "-" + c.version + ".zip", Zip: bytes.NewReader(zip), Signature: sig, Options: Options{Legacy: true, Client: "queue@test"}}, QueueConfig{Audit: audit.New(s.b.Internal)})
	if err != nil {
		t.Fatal(err)
	}
	if sub.Status != api.StatusQueued {
		t.Fatalf("queued %s-%s: status %s %v", c.name, c.version, sub.Status, sub.Reasons)
	}
	return sub.ID
}

type candidate struct {
	name, version string
	signer        string // trusted, foreign or "" (unsigned)
	wrongRoot     bool
}

func good(name, version string) candidate {
	return candidate{name: name, version: version, signer: "trusted"}
}

// want is the expected outcome of one queued candidate.
type want struct {
	status api.Status
	check  string // of the first reason, when refused
}

// TestDrain: one drain of the queue publishes what passes, refuses the rest
// with reasons, and reports every submission once, in queue order; what is
// published is in the public bucket, what is refused leaves nothing there,
// and the queue is empty afterwards.
func TestDrain(t *testing.T) {
	trusted, foreign := sigtest.NewKey(t, "trusted"), sigtest.NewKey(t, "foreign")
	for _, tc := range []struct {
		name  string
		queue []candidate
		want  []want
	}{
		{"empty queue", nil, nil},
		{"all pass", []candidate{good("a", "1.0.0"), good("b", "1.0.0"), good("a", "2.0.0")},
			[]want{{status: api.StatusPublished}, {status: api.StatusPublished}, {status: api.StatusPublished}}},
		{"mixed", []candidate{
			good("a", "1.0.0"),
			{name: "b", version: "1.0.0", signer: "foreign"},
			{name: "c", version: "1.0.0"},
			{name: "d", version: "1.0.0", signer: "trusted", wrongRoot: true},
		}, []want{
			{status: api.StatusPublished},
			{status: api.StatusRejected, check: api.CheckSignature},
			{status: api.StatusRejected, check: api.CheckSignature},
			{status: api.StatusRejected, check: api.CheckRoot},
		}},
		{"the same revision twice", []candidate{good("a", "1.0.0"), good("a", "1.0.0")},
			[]want{{status: api.StatusPublished}, {status: api.StatusRejected, check: api.CheckDuplicate}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newDrainStore(t, trusted, foreign)
			var ids []string
			for _, c := range tc.queue {
				ids = append(ids, s.queue(t, c))
				time.Sleep(time.Millisecond) // ids sort by time: keep the order
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			out, err := s.job(t).Drain(ctx, DrainOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != len(tc.want) {
				t.Fatalf("%d outcomes, want %d: %+v", len(out), len(tc.want), out)
			}
			// Two workers take candidates at once: which of two
			// submissions of one revision wins is not fixed, so the
			// outcomes are compared as a multiset, the ids in order.
			wantLeft := map[want]int{}
			for _, w := range tc.want {
				wantLeft[w]++
			}
			published := 0
			for i, o := range out {
				if o.ID != ids[i] || o.Err != nil || o.Submission == nil {
					t.Fatalf("outcome %d: %+v, want submission %s final", i, o, ids[i])
				}
				sub := o.Submission
				got := want{status: sub.Status}
				if len(sub.Reasons) > 0 {
					got.check = sub.Reasons[0].Check
				}
				if wantLeft[got] == 0 {
					t.Errorf("%s: status %s %v, not among the expected outcomes %v", sub.Package, sub.Status, sub.Reasons, tc.want)
				}
				wantLeft[got]--
				if sub.Status == api.StatusPublished {
					published++
				}
				zipThere, _ := s.b.Public.Exists(ctx, storage.ZipKey(packageid.ID{Name: sub.Name, Version: sub.Version}))
				if shouldBe := sub.Status == api.StatusPublished || got.check == api.CheckDuplicate; zipThere != shouldBe {
					t.Errorf("%s (%s): zip in the public bucket: %v", sub.Package, sub.Status, zipThere)
				}
			}
			zips, _ := s.b.Public.ListAll(ctx, &storage.ListOptions{Prefix: storage.PackagesPrefix})
			nZips := 0
			for _, z := range zips {
				if strings.HasSuffix(z.Key, ".zip") {
					nZips++
				}
			}
			if nZips != published {
				t.Errorf("%d zips published, %d publications reported", nZips, published)
			}
			if q, _ := s.b.Internal.ListAll(ctx, &storage.ListOptions{Prefix: storage.QueuePrefix}); len(q) != 0 {
				t.Errorf("queue not empty after the drain: %v", q)
			}
		})
	}
}

// TestDrainOnly: with Only, the drain works on those submissions alone and
// reports them, including one another process already finished; the rest
// stays queued; ids that are no submission are reported as such.
func TestDrainOnly(t *testing.T) {
	s := newDrainStore(t, sigtest.NewKey(t, "trusted"), sigtest.NewKey(t, "foreign"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := s.queue(t, good("done", "1.0.0"))
	if out, err := s.job(t).Drain(ctx, DrainOptions{Only: []string{done}}); err != nil || out[0].Submission.Status != api.StatusPublished {
		t.Fatalf("first drain: %+v %v", out, err)
	}
	mine := s.queue(t, good("mine", "1.0.0"))
	other := s.queue(t, good("other", "1.0.0"))
	out, err := s.job(t).Drain(ctx, DrainOptions{Only: []string{mine, done, "not-an-id", mine, NewID()}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 4 {
		t.Fatalf("outcomes %+v, want 4 (the duplicate id once)", out)
	}
	for i, id := range []string{mine, done} {
		if out[i].ID != id || out[i].Err != nil || out[i].Submission.Status != api.StatusPublished {
			t.Errorf("outcome %d: %+v, want %s published", i, out[i], id)
		}
	}
	for _, o := range out[2:] {
		if !errors.Is(o.Err, ErrUnknownSubmission) {
			t.Errorf("outcome of %q: %v, want ErrUnknownSubmission", o.ID, o.Err)
		}
	}
	if st, _ := s.job(t).Status(ctx, other); st.Status != api.StatusQueued {
		t.Errorf("a submission outside Only is %s, want still queued", st.Status)
	}
}

// TestDrainRespectsLeases: a submission whose lease another live process
// holds is not touched: the drain waits for it and, when its context ends
// first, reports it not final and leaves it queued. A lease whose holder
// stopped renewing it is taken over and the submission published once.
func TestDrainRespectsLeases(t *testing.T) {
	s := newDrainStore(t, sigtest.NewKey(t, "trusted"), sigtest.NewKey(t, "foreign"))
	id := s.queue(t, good("held", "1.0.0"))
	holder := s.job(t)
	if l, err := holder.acquire(context.Background(), id); err != nil || l == nil {
		t.Fatalf("acquire: %v %v", l, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	out, err := s.job(t).Drain(ctx, DrainOptions{Poll: 100 * time.Millisecond})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || !errors.Is(out[0].Err, ErrNotFinal) {
		t.Fatalf("outcomes %+v, want the held submission not final", out)
	}
	if st, _ := holder.Status(context.Background(), id); st.Status != api.StatusQueued || st.Attempts != 0 {
		t.Fatalf("held submission is %s after %d attempts, want queued and untouched", st.Status, st.Attempts)
	}

	// The holder dies without releasing: its lease ages past the TTL.
	gen, _, err := holder.topLease(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	leaseFile := filepath.Join(s.b.Internal.Driver().(interface{ Dir() string }).Dir(), filepath.FromSlash(leaseKey(id, gen)))
	stale := []byte(`{"instance":"dead","host":"elsewhere","pid":1,"renewed":"` + time.Now().Add(-2*leaseTTL).UTC().Format(time.RFC3339Nano) + `"}`)
	if err := os.WriteFile(leaseFile, stale, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err = s.job(t).Drain(ctx, DrainOptions{Poll: 100 * time.Millisecond})
	if err != nil || len(out) != 1 || out[0].Err != nil || out[0].Submission.Status != api.StatusPublished || out[0].Submission.Attempts != 1 {
		t.Fatalf("after the holder died: %+v %v, want published at the first attempt", out, err)
	}
}

// TestDrainWaitsForAnotherProcess: a drain that finds a submission in
// another process's hands reports that process's outcome once it is final.
func TestDrainWaitsForAnotherProcess(t *testing.T) {
	s := newDrainStore(t, sigtest.NewKey(t, "trusted"), sigtest.NewKey(t, "foreign"))
	id := s.queue(t, good("slow", "1.0.0"))
	other := s.job(t)
	l, err := other.acquire(context.Background(), id)
	if err != nil || l == nil {
		t.Fatalf("acquire: %v %v", l, err)
	}
	go func() {
		time.Sleep(500 * time.Millisecond)
		other.release(context.Background(), id)
		other.process(context.Background(), id)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := s.job(t).Drain(ctx, DrainOptions{Poll: 50 * time.Millisecond})
	if err != nil || len(out) != 1 || out[0].Err != nil || out[0].Submission.Status != api.StatusPublished {
		t.Fatalf("outcomes %+v %v, want published", out, err)
	}
	if a := out[0].Submission.Attempts; a != 1 {
		t.Fatalf("published after %d attempts, want 1", a)
	}
}

// TestDrainCleansAbandonedUploads: an upload whose writer died mid-zip
// left queue-publishing/<id>/NAME-VERSION.zip.<hex>.tmp, which listings
// hide: no queue scan saw it and no dequeue removed it, so it stayed
// forever. A drain, and serve's job at its start, remove it (and its
// folder) once it is older than AbandonedAfter, and leave a younger one
// (an upload in progress) alone.
func TestDrainCleansAbandonedUploads(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, p *Publisher)
	}{
		{"job publish's drain", func(t *testing.T, p *Publisher) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if out, err := p.Drain(ctx, DrainOptions{}); err != nil || len(out) != 0 {
				t.Fatalf("Drain = %+v, %v; want no outcome", out, err)
			}
		}},
		{"serve's job at start", func(t *testing.T, p *Publisher) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			p.Run(ctx)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newDrainStore(t, sigtest.NewKey(t, "trusted"), sigtest.NewKey(t, "foreign"))
			dir := s.b.Internal.Driver().(interface{ Dir() string }).Dir()
			oldID, youngID := NewID(), NewID()
			oldTmp := filepath.Join(dir, "queue-publishing", oldID, "a-1.0.0.zip.18b3c1d2e3f4a5b6.tmp")
			youngTmp := filepath.Join(dir, "queue-publishing", youngID, "b-1.0.0.zip.18b3c1d2e3f4a5b6.tmp")
			for _, p := range []string{oldTmp, youngTmp} {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("PK\x03\x04 half a zip"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			past := time.Now().Add(-AbandonedAfter - time.Minute)
			if err := os.Chtimes(oldTmp, past, past); err != nil {
				t.Fatal(err)
			}
			tc.run(t, s.job(t))
			if _, err := os.Stat(filepath.Dir(oldTmp)); !os.IsNotExist(err) {
				t.Errorf("abandoned upload's folder still there (%v)", err)
			}
			if _, err := os.Stat(youngTmp); err != nil {
				t.Errorf("upload in progress removed: %v", err)
			}
		})
	}
}
