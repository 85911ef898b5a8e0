package server_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/publish"
	"pkgstore/internal/server"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/storagetest"
	"pkgstore/internal/testkit/ziptest"
)

// TestCloudJobsRaceServe: on cloud buckets (fake-gcs-server, MinIO),
// candidates queued straight into the internal bucket (publish.Queue, the
// CI step), then two jobs (NewJob, each an instance of its own as far as
// leases go) draining while a store serves the same buckets: every
// revision published exactly once, duplicates refused, both jobs agree on
// every outcome they report, and the queue ends empty.
func TestCloudJobsRaceServe(t *testing.T) {
	for _, be := range storagetest.Backends {
		t.Run(be.Name, func(t *testing.T) {
			srv := be.Start(t)
			publicURL, internalURL := srv.NewBucket(t), srv.NewBucket(t)
			key := sigtest.NewKey(t, "publisher")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()

			internal := storagetest.Open(t, internalURL)
			const revisions = 6
			var ids []string
			for i := range revisions + 2 { // the first two revisions twice
				v := fmt.Sprintf("1.0.%d", i%revisions)
				zip := ziptest.Package(t, "cloudjob", v)
				sub, err := publish.Queue(ctx, internal, publish.Candidate{FileName: "cloudjob-" + v + ".zip", Zip: bytes.NewReader(zip), Signature: key.Sign(t, zip), Options: publish.Options{Legacy: true}}, publish.QueueConfig{})
				if err != nil || sub.Status != api.StatusQueued {
					t.Fatalf("queue %s: %+v %v", v, sub, err)
				}
				ids = append(ids, sub.ID)
			}

			cfg := server.Config{Storage: storage.Config{PublicURL: publicURL, InternalURL: internalURL}, Keyrings: []string{key.PublicPath}, RequireSignatures: true, Workers: 2}
			var wg sync.WaitGroup
			reports := make([][]publish.Outcome, 2)
			for i := range reports {
				job, err := server.NewJob(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer job.Close()
				wg.Add(1)
				go func() {
					defer wg.Done()
					var err error
					if reports[i], err = job.Publisher.Drain(ctx, publish.DrainOptions{Only: ids, Poll: 100 * time.Millisecond}); err != nil {
						t.Error(err)
					}
				}()
			}
			s := servertest.Start(t, servertest.Options{Key: key, Configure: cloudStorage(publicURL, internalURL, false)})
			wg.Wait()

			published := map[string]string{} // version -> submission
			for _, o := range reports[0] {
				if o.Err != nil {
					t.Fatalf("%s: %v", o.ID, o.Err)
				}
				switch sub := o.Submission; {
				case sub.Status == api.StatusPublished:
					if other, dup := published[sub.Version]; dup {
						t.Errorf("%s published by %s and %s", sub.Version, other, sub.ID)
					}
					published[sub.Version] = sub.ID
				case sub.Status != api.StatusRejected || len(sub.Reasons) != 1 || sub.Reasons[0].Check != api.CheckDuplicate:
					t.Errorf("%s (%s): %s %v, want published or a duplicate", sub.ID, sub.Version, sub.Status, sub.Reasons)
				}
			}
			if len(published) != revisions || len(reports[0]) != len(ids) {
				t.Errorf("%d outcomes, %d revisions published, want %d and %d", len(reports[0]), len(published), len(ids), revisions)
			}
			for i, o := range reports[1] {
				a, b := reports[0][i].Submission, o.Submission
				if o.Err != nil || a.ID != b.ID || a.Status != b.Status {
					t.Errorf("the jobs disagree on %s: %+v / %+v (%v)", o.ID, a, b, o.Err)
				}
			}
			for v := range published {
				s.WaitVisible(t, "cloudjob", v)
			}
			if left, err := internal.ListAll(ctx, &storage.ListOptions{Prefix: storage.QueuePrefix}); err != nil || len(left) != 0 {
				t.Errorf("queue after the drains: %v %v", left, err)
			}
		})
	}
}

// TestServeIndexesJobPublications: a serve that finds a submission in a
// publishing job's hands watches it, and indexes it once the job has
// published it. Before, the serve left such a submission to the job and
// never indexed it (only its own publications triggered its indexer), so
// a revision a job published beside a serve stayed invisible until some
// later publication of the serve's own (TestCloudJobsRaceServe failed
// that way now and then).
func TestServeIndexesJobPublications(t *testing.T) {
	data := t.TempDir()
	s := servertest.Start(t, servertest.Options{Data: data, Configure: func(c *server.Config) { c.Workers = 1 }})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The job claims the submission and waits at its first step until
	// the serve has seen it in the job's hands.
	claimed, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	cfg := server.Config{Storage: storage.Config{DataDir: data}, Keyrings: []string{s.Key.PublicPath}, RequireSignatures: true, Workers: 1,
		AfterStep: func(step string) {
			if step == "claimed" {
				once.Do(func() { close(claimed) })
				<-resume
			}
		}}
	job, err := server.NewJob(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	zip := ziptest.Package(t, "jobonly", "1.0.0")
	sub, err := publish.Queue(ctx, job.Buckets.Internal, publish.Candidate{FileName: "jobonly-1.0.0.zip", Zip: bytes.NewReader(zip), Signature: s.Key.Sign(t, zip), Options: publish.Options{Legacy: true}}, publish.QueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []publish.Outcome, 1)
	go func() {
		out, err := job.Publisher.Drain(ctx, publish.DrainOptions{Only: []string{sub.ID}, Poll: 100 * time.Millisecond})
		if err != nil {
			t.Error(err)
		}
		done <- out
	}()
	select {
	case <-claimed:
	case <-ctx.Done():
		t.Fatal("the job never claimed the submission")
	}
	// The serve's own scan of the queue finds it leased by the job.
	s.Server.Publisher.Recover(ctx)
	time.Sleep(200 * time.Millisecond)
	close(resume)
	if out := <-done; len(out) != 1 || out[0].Submission == nil || out[0].Submission.Status != api.StatusPublished {
		t.Fatalf("job outcome %+v", out)
	}
	s.WaitVisible(t, "jobonly", "1.0.0")
}
