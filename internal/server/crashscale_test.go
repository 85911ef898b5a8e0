package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"pkgstore/internal/api"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"pkgstore/internal/client"
	"pkgstore/internal/pkg/archive"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/ziptest"
)

var (
	crashIterations = flag.Int("crash-iterations", 3, "kill-and-restart rounds of TestCrashConsistencyAtScale (200 for the long run)")
	crashSeed       = flag.Uint64("crash-seed", 1, "seed of TestCrashConsistencyAtScale's kill times and duplicates")
)

// crashClients publish at once in every round.
const crashClients = 3

// TestCrashConsistencyAtScale publishes from several clients into a real
// `serve` child on file buckets, kills it with SIGKILL at a random moment
// (seeded), restarts it on the same folder, lets it recover, and checks the
// store's invariants over everything published so far:
//
//   - no zip without its signature, its package document and every static
//     file of the zip;
//   - every zip indexed, and nothing indexed without its zip;
//   - every submission a client was given an id for is recorded, and every
//     recorded submission ends published (its zip exists) or refused with
//     at least one reason.
//
// The long run: go test ./internal/server -run CrashConsistencyAtScale -crash-iterations=200 -timeout 2h
func TestCrashConsistencyAtScale(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	key := sigtest.NewKey(t, "publisher")
	rng := rand.New(rand.NewPCG(*crashSeed, 0x5eed))
	var (
		mu  sync.Mutex
		ids = map[string]string{} // submission id -> NAME-VERSION, as the clients were told
	)
	violations, interrupted, queued := 0, 0, 0
	for iter := 0; iter < *crashIterations; iter++ {
		c := startChild(t, data, key.PublicPath, "")
		killAfter := time.Duration(50+rng.IntN(1200)) * time.Millisecond
		dupEvery := 2 + rng.IntN(4)
		ctx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for k := 0; k < crashClients; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; ctx.Err() == nil; n++ {
					name := fmt.Sprintf("r%d_c%d_%d", iter, k, n)
					if n%dupEvery == dupEvery-1 {
						name = fmt.Sprintf("r%d_c%d_%d", iter, (k+1)%crashClients, n-1) // races another client
					}
					zip := ziptest.Package(t, name, "1.0.0")
					sub, err := c.Client.Submit(ctx, name+"-1.0.0.zip", bytes.NewReader(zip), key.Sign(t, zip), client.Options{Legacy: true})
					if err != nil {
						return // killed (or stopping): whatever it held is checked below
					}
					mu.Lock()
					ids[sub.ID] = name + "-1.0.0"
					mu.Unlock()
				}
			}()
		}
		time.Sleep(killAfter)
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
		c.exitCode(t)
		stop()
		wg.Wait()

		// What the kill interrupted: submissions not final and candidates
		// still queued, all of which the restart must finish.
		for _, s := range readSubmissions(t, data) {
			if !s.Status.Final() {
				interrupted++
			}
		}
		queued += len(queuedUploads(t, data))
		r := startChild(t, data, key.PublicPath, "")
		vs := checkStore(t, data, r.URL, ids, &mu)
		for _, v := range vs {
			t.Errorf("round %d (killed after %v): %s", iter, killAfter, v)
		}
		violations += len(vs)
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		r.exitCode(t)
	}
	mu.Lock()
	t.Logf("%d rounds, %d submissions given ids, %d unfinished at a kill, %d queue entries left by kills, %d violations (seed %d)", *crashIterations, len(ids), interrupted, queued, violations, *crashSeed)
	mu.Unlock()
}

// checkStore waits for the restarted store to settle (every submission
// final, the index covering every zip) and returns the invariants broken.
func checkStore(t *testing.T, data, url string, ids map[string]string, mu *sync.Mutex) []string {
	t.Helper()
	var vs []string
	deadline := time.Now().Add(60 * time.Second)
	var subs map[string]*api.Submission
	for {
		subs = readSubmissions(t, data)
		pending := 0
		for _, s := range subs {
			if !s.Status.Final() {
				pending++
			}
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			vs = append(vs, fmt.Sprintf("%d submissions still not final after 60s", pending))
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	for id, nv := range ids {
		s, ok := subs[id]
		if !ok {
			vs = append(vs, fmt.Sprintf("submission %s (%s) was accepted but has no record", id, nv))
			continue
		}
		if s.Package != nv+".zip" {
			vs = append(vs, fmt.Sprintf("submission %s is for %s, the client sent %s", id, s.Package, nv))
		}
	}
	mu.Unlock()
	zips := publishedZips(t, data)
	for id, s := range subs {
		switch s.Status {
		case api.StatusPublished:
			if nv := strings.TrimSuffix(s.Package, ".zip"); !zips[nv] {
				vs = append(vs, fmt.Sprintf("submission %s published %s but its zip is missing", id, nv))
			}
		case api.StatusRejected:
			if len(s.Reasons) == 0 {
				vs = append(vs, fmt.Sprintf("submission %s refused without a recorded reason", id))
			}
		}
	}
	for nv := range zips {
		vs = append(vs, checkPublished(t, data, nv)...)
	}
	// The index: every zip, and nothing else.
	var indexed map[string]bool
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		indexed = searchAllIDs(t, url)
		missing := 0
		for nv := range zips {
			if !indexed[nv] {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			vs = append(vs, fmt.Sprintf("%d zips not indexed 30s after the restart", missing))
			break
		}
	}
	for nv := range indexed {
		if !zips[nv] {
			vs = append(vs, fmt.Sprintf("%s indexed without its zip", nv))
		}
	}
	sort.Strings(vs)
	return vs
}

// queuedUploads lists the queue entries (submissions whose candidate is
// still queued).
func queuedUploads(t *testing.T, data string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(data, "internal", filepath.FromSlash(strings.TrimSuffix(storage.QueuePrefix, "/"))))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func readSubmissions(t *testing.T, data string) map[string]*api.Submission {
	t.Helper()
	dir := filepath.Join(data, "internal", filepath.FromSlash(storage.SubmissionsPrefix))
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	out := map[string]*api.Submission{}
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue // gocloud's .attrs sidecars
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // replaced while we read: the next poll sees it
		}
		var s api.Submission
		if err := json.Unmarshal(b, &s); err != nil {
			t.Errorf("submission record %s: %v", id, err)
			continue
		}
		out[id] = &s
	}
	return out
}

// publishedZips returns the NAME-VERSION of every zip in the public bucket.
func publishedZips(t *testing.T, data string) map[string]bool {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(data, "public", filepath.FromSlash(storage.PackagesPrefix)))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, e := range ents {
		if nv, ok := strings.CutSuffix(e.Name(), ".zip"); ok {
			out[nv] = true
		}
	}
	return out
}

// checkPublished checks one zip's companions: signature, document, and
// every file of the zip among the static files, byte for byte.
func checkPublished(t *testing.T, data, nv string) []string {
	pub := filepath.Join(data, "public")
	var vs []string
	if _, err := os.Stat(filepath.Join(pub, "artifacts/packages", nv+".zip.sig")); err != nil {
		vs = append(vs, nv+": zip without its signature")
	}
	if _, err := os.Stat(filepath.Join(data, "internal", filepath.FromSlash(storage.DocumentsPrefix), nv+".json")); err != nil {
		vs = append(vs, nv+": zip without its package document")
	}
	zipBytes, err := os.ReadFile(filepath.Join(pub, "artifacts/packages", nv+".zip"))
	if err != nil {
		return append(vs, nv+": "+err.Error())
	}
	id, err := packageid.Parse(nv)
	if err != nil {
		return append(vs, fmt.Sprintf("%s: %v", nv, err))
	}
	pkg, err := archive.Open(bytes.NewReader(zipBytes), int64(len(zipBytes)), id, archive.DefaultLimits)
	if err != nil {
		return append(vs, fmt.Sprintf("%s: published zip does not open: %v", nv, err))
	}
	for _, f := range pkg.Files {
		rc, err := f.Open()
		if err != nil {
			return append(vs, fmt.Sprintf("%s: %s: %v", nv, f.Path, err))
		}
		want, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return append(vs, fmt.Sprintf("%s: %s: %v", nv, f.Path, err))
		}
		got, err := os.ReadFile(filepath.Join(pub, "artifacts/static", nv, filepath.FromSlash(f.Path)))
		if err != nil || !bytes.Equal(got, want) {
			vs = append(vs, fmt.Sprintf("%s: static file %s missing or different", nv, f.Path))
		}
	}
	return vs
}

func searchAllIDs(t *testing.T, url string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	resp, err := http.Get(url + "/search?all=true&prerelease=true")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	var items []struct{ Name, Version string }
	if err := json.NewDecoder(resp.Body).Decode(&items); err != nil {
		return out
	}
	for _, it := range items {
		out[it.Name+"-"+it.Version] = true
	}
	return out
}
