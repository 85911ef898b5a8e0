package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"pkgstore/internal/api"
	"slices"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/client"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/testkit/eprtest"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/storagetest"
	"pkgstore/internal/testkit/ziptest"
)

// TestYankSeenByReferenceEPR publishes two versions on GCS buckets, has the
// reference EPR read them through its storage indexer (full reloads, and
// deltas with -feature-incremental-updates), then yanks and unyanks one:
// the reference must drop it from /search and bring it back, like ours.
// What the reference serves for the yanked revision's pinned URLs is
// checked too (docs/operators-governance.md quotes it).
func TestYankSeenByReferenceEPR(t *testing.T) {
	eprtest.Script(t) // skip early without ../shared
	gcs := storagetest.StartGCS(t)
	publicURL, internalURL := gcs.NewBucket(t), gcs.NewBucket(t)
	s, _ := governedStore(t, publicURL, internalURL)
	ctx := context.Background()
	zips := map[string][]byte{}
	for _, v := range []string{"2.3.0", "2.3.1"} {
		zip := ziptest.Package(t, "aws", v)
		zips[v] = zip
		sub, err := newClient(t, s, secretAWS).Publish(ctx, "aws-"+v+".zip", bytes.NewReader(zip), s.Key.Sign(t, zip), client.Options{Legacy: true})
		if err != nil || sub.Status != api.StatusPublished {
			t.Fatalf("publish aws %s: %+v %v", v, sub, err)
		}
		s.WaitVisible(t, "aws", v)
	}
	replica := servertest.Start(t, servertest.Options{Key: s.Key, Configure: cloudStorage(publicURL, internalURL, true)})
	replica.WaitVisible(t, "aws", "2.3.1")
	publicBucket := strings.TrimPrefix(publicURL, "gs://")
	modes := map[string][]string{"full": nil, "incremental": {"-feature-incremental-updates"}}
	eprs := map[string]*eprtest.EPR{}
	for mode, extra := range modes {
		eprs[mode] = eprtest.Start(t, eprtest.Options{
			Args: append([]string{"-feature-storage-indexer",
				"-storage-indexer-bucket-internal", internalURL,
				"-storage-endpoint", "http://" + gcs.Host + "/" + publicBucket + "/",
				"-storage-indexer-watch-interval", "1s"}, extra...),
			Env: []string{"STORAGE_EMULATOR_HOST=" + gcs.Host},
		})
	}
	for mode, e := range eprs {
		waitEPRSearch(t, e.URL, "?package=aws&all=true", []string{"aws-2.3.0", "aws-2.3.1"}, mode)
	}

	yanker := newClient(t, s, secretYank)
	id := packageid.ID{Name: "aws", Version: "2.3.1"}
	if _, err := yanker.Yank(ctx, id, true, "broken ingest pipeline"); err != nil {
		t.Fatal(err)
	}
	waitSearch(t, s, "?package=aws&all=true", "aws-2.3.1", false)
	for mode, e := range eprs {
		waitEPRSearch(t, e.URL, "?package=aws&all=true", []string{"aws-2.3.0"}, mode)
		waitEPRSearch(t, e.URL, "?package=aws", []string{"aws-2.3.0"}, mode)
		// What a reader of the index serves for the yanked revision: it is
		// not in its index, so nothing of it (ours keeps serving it).
		for _, p := range []string{"/package/aws/2.3.1/", "/epr/aws/aws-2.3.1.zip", "/epr/aws/aws-2.3.1.zip.sig", "/package/aws/2.3.1/manifest.yml"} {
			if code := httpStatus(t, e.URL+p); code != http.StatusNotFound {
				t.Errorf("%s reference EPR: %s answers %d, want 404", mode, p, code)
			}
		}
		if code := httpStatus(t, e.URL+"/package/aws/2.3.0/"); code != http.StatusOK {
			t.Errorf("%s reference EPR: the other version answers %d", mode, code)
		}
	}
	assertYankedServed(t, s, id, zips["2.3.1"])
	// A read-only replica of ours on the same buckets learns of the yank
	// from the index alone, and serves the pinned URLs as well.
	waitSearch(t, replica, "?package=aws&all=true", "aws-2.3.1", false)
	assertYankedServed(t, replica, id, zips["2.3.1"])

	if _, err := yanker.Yank(ctx, id, false, ""); err != nil {
		t.Fatal(err)
	}
	for mode, e := range eprs {
		waitEPRSearch(t, e.URL, "?package=aws&all=true", []string{"aws-2.3.0", "aws-2.3.1"}, mode)
		if code := httpStatus(t, e.URL+"/epr/aws/aws-2.3.1.zip"); code != http.StatusOK {
			t.Errorf("%s reference EPR: unyanked zip answers %d", mode, code)
		}
	}
	waitSearch(t, replica, "?package=aws", "aws-2.3.1", true)
}

func httpStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// waitEPRSearch waits until the reference answers /search+query with
// exactly want (NAME-VERSION, any order).
func waitEPRSearch(t *testing.T, base, query string, want []string, mode string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		got = nil
		resp, err := http.Get(base + "/search" + query)
		if err == nil {
			var res []struct{ Name, Version string }
			if resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&res) == nil {
				for _, r := range res {
					got = append(got, r.Name+"-"+r.Version)
				}
				slices.Sort(got)
				if slices.Equal(got, want) {
					resp.Body.Close()
					return
				}
			}
			resp.Body.Close()
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s reference EPR /search%s = %v after 60s, want %v", mode, query, got, want)
}
