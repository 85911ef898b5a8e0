package server_test

import (
	"bytes"
	"context"
	"path/filepath"
	"pkgstore/internal/api"
	"testing"
	"time"

	"pkgstore/internal/client"
	"pkgstore/internal/server"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/ziptest"
)

// TestGracefulShutdown stops a store while a publication is in progress:
// within the grace period the publication finishes; past it, it is handed
// back to the queue (record queued, lease released) and the next start
// publishes it at once instead of waiting for the lease to expire.
func TestGracefulShutdown(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hold  time.Duration // the job pauses this long after claiming
		grace time.Duration
		// finished: published before the first store stopped.
		finished bool
	}{
		{"finishes within the grace", 500 * time.Millisecond, 10 * time.Second, true},
		{"abandoned past the grace", 2 * time.Second, 200 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			key := sigtest.NewKey(t, "publisher")
			claimed := make(chan struct{}, 1)
			s := servertest.Start(t, servertest.Options{Data: data, Key: key, Configure: func(c *server.Config) {
				c.HTTP.ShutdownGrace = tc.grace
				c.AfterStep = func(step string) {
					if step == "claimed" {
						claimed <- struct{}{}
						time.Sleep(tc.hold)
					}
				}
			}})
			zip := ziptest.Package(t, "grace", "1.0.0")
			sub, err := s.Client.Submit(context.Background(), "grace-1.0.0.zip", bytes.NewReader(zip), key.Sign(t, zip), client.Options{Legacy: true})
			if err != nil {
				t.Fatal(err)
			}
			<-claimed
			start := time.Now()
			s.Stop()
			stopped := time.Now()
			if took := stopped.Sub(start); took > tc.hold+5*time.Second {
				t.Errorf("shutdown took %v", took)
			}

			s2 := servertest.Start(t, servertest.Options{Data: data, Key: key})
			if !tc.finished {
				// The first store left it queued, not processing.
				got, err := s2.Client.Status(context.Background(), sub.ID, 0)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status.Final() {
					t.Fatalf("status %s: the abandoned job finished anyway", got.Status)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			got, err := s2.Client.Wait(ctx, sub.ID)
			if err != nil || got.Status != api.StatusPublished {
				t.Fatalf("after restart: %v %v", got, err)
			}
			if tc.finished && got.Finished.After(stopped) {
				t.Errorf("finished at %v, after the first store stopped at %v", got.Finished, stopped)
			}
			if !tc.finished && got.Attempts != 1 {
				t.Errorf("%d attempts recorded; the interrupted one must not count", got.Attempts)
			}
			s2.WaitVisible(t, "grace", "1.0.0")
		})
	}
}
