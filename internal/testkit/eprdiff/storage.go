package eprdiff

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"pkgstore/internal/server"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/eprtest"
	"pkgstore/internal/testkit/storagetest"
)

// StorageMode is one way the reference reads our buckets through its
// storage indexer.
type StorageMode struct {
	Name string
	Args []string // flags beyond -feature-storage-indexer and the buckets
}

// StorageModes are the reference's three storage indexers: full reloads,
// deltas between cursors, and the SQLite indexer with its caches.
var StorageModes = []StorageMode{
	{Name: "plain", Args: []string{"-feature-storage-indexer"}},
	{Name: "incremental", Args: []string{"-feature-storage-indexer", "-feature-incremental-updates"}},
	{Name: "sql", Args: []string{"-feature-sql-storage-indexer", "-feature-enable-search-cache", "-feature-enable-categories-cache"}},
}

// Storage is our store on GCS buckets (fake-gcs-server in this process)
// and, per mode, a reference reading the same buckets: the internal bucket
// through the GCS API, artifacts and static files over HTTP from the public
// bucket's endpoint.
type Storage struct {
	Ours  *Pair // our store; Ref is nil
	Pairs []*Pair
	GCS   *storagetest.GCS
	// Public and Internal are the bucket names.
	Public, Internal string
}

// StartStorage starts our store on fresh GCS buckets, publishes first
// (EPR's storage indexer refuses to start without a cursor), then starts
// one reference per mode.
func StartStorage(tb testing.TB, c *Corpus, o Options, first []Package, modes []StorageMode) *Storage {
	tb.Helper()
	eprtest.Script(tb) // skip early without ../shared
	g := storagetest.StartGCS(tb)
	pub, internal := g.NewBucket(tb), g.NewBucket(tb)
	conf := o.Configure
	o.Configure = func(cfg *server.Config) {
		cfg.Storage = storage.Config{PublicURL: pub, InternalURL: internal}
		if conf != nil {
			conf(cfg)
		}
	}
	o.NoReference, o.NoPublish = true, true
	ours := StartOurs(tb, c, o)
	ours.Publish(tb, first)
	s := &Storage{Ours: ours, GCS: g, Public: bucketName(pub), Internal: bucketName(internal)}
	for _, m := range modes {
		args := append([]string{"-log-level", "warn",
			"-storage-indexer-bucket-internal", internal,
			"-storage-endpoint", "http://" + g.Host + "/" + s.Public + "/",
			"-storage-indexer-watch-interval", "1s",
		}, m.Args...)
		ref := eprtest.Start(tb, eprtest.Options{
			Args: append(args, o.EPR.Args...),
			Env: append([]string{
				"STORAGE_EMULATOR_HOST=" + g.Host,
				"EPR_SQL_INDEXER_DATABASE_FOLDER_PATH=" + tb.TempDir() + "/",
			}, o.EPR.Env...),
		})
		s.Pairs = append(s.Pairs, &Pair{
			Corpus: &Corpus{Name: c.Name + "/" + m.Name},
			Ours:   ours.Ours, Ref: ref, Key: ours.Key, opts: ours.opts,
		})
	}
	s.sync(tb)
	return s
}

func bucketName(u string) string { return u[len("gs://"):] }

// Publish publishes pkgs through our job (a new batch: new cursors) and
// waits until every reference serves all of them.
func (s *Storage) Publish(tb testing.TB, pkgs []Package) {
	tb.Helper()
	s.Ours.Publish(tb, pkgs)
	s.sync(tb)
}

// sync waits until every reference serves every revision published so far
// (each polls the cursor every second) and records them as its revisions.
func (s *Storage) sync(tb testing.TB) {
	tb.Helper()
	all := s.Ours.Revisions()
	for _, p := range s.Pairs {
		for _, pk := range all {
			waitOK(tb, p.Ref.URL+"/package/"+pk.ID.Name+"/"+pk.ID.Version+"/", 30*time.Second)
		}
		p.published = append([]Package(nil), all...)
	}
}

// Pause stops every reference (see eprtest.EPR.Pause): publications and
// pruning then happen while they lag behind.
func (s *Storage) Pause(tb testing.TB) {
	tb.Helper()
	for _, p := range s.Pairs {
		if err := p.Ref.Pause(); err != nil {
			tb.Fatalf("pause reference: %v", err)
		}
	}
}

// Resume continues every reference and waits until each serves every
// revision published so far.
func (s *Storage) Resume(tb testing.TB) {
	tb.Helper()
	for _, p := range s.Pairs {
		if err := p.Ref.Resume(); err != nil {
			tb.Fatalf("resume reference: %v", err)
		}
	}
	s.sync(tb)
}

// Reload waits until every reference has polled the cursor at least once
// more (after a change that adds no revision, such as pruning).
func (s *Storage) Reload(tb testing.TB) {
	tb.Helper()
	// Two poll intervals of the reference: one to notice, one to load.
	time.Sleep(2500 * time.Millisecond)
	s.sync(tb)
}

func waitOK(tb testing.TB, url string, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		cancel()
		if err == nil && resp.StatusCode == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			status := fmt.Sprint(err)
			if err == nil {
				status = resp.Status
			}
			tb.Fatalf("eprdiff: %s not served after %s (%s)", url, timeout, status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
