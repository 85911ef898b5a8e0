package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/ziptest"
)

// TestDataFolderRemovedUnderServe: `rm -rf` of --data under a running
// store read as an empty store: /health 200, and the next write (a
// publication, an audit record, the indexer) made the folders again. Now
// /health answers 503 naming the missing folder, writes fail, and nothing
// creates the folder again (issue 21 items 9 and 10).
func TestDataFolderRemovedUnderServe(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	zip := ziptest.Package(t, "before", "1.0.0")
	if sub := s.Publish(t, "before-1.0.0.zip", zip, client.Options{Legacy: true}); sub.Status != api.StatusPublished {
		t.Fatalf("publish: %+v", sub)
	}
	s.WaitVisible(t, "before", "1.0.0")
	if err := os.RemoveAll(s.Data); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	var h struct{ Status, Reason string }
	for {
		resp, err := http.Get(s.URL + "/health?verbose=true")
		if err != nil {
			t.Fatal(err)
		}
		h.Status, h.Reason = "", ""
		json.NewDecoder(resp.Body).Decode(&h)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/health answers %d %+v 10 s after --data was removed, want 503", resp.StatusCode, h)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(h.Reason, "no longer exists") || !strings.Contains(h.Reason, s.Data) {
		t.Errorf("reason %q does not name the removed folder %s", h.Reason, s.Data)
	}
	// A publication now: refused or failed, never written.
	zip = ziptest.Package(t, "after", "1.0.0")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	sub, err := s.Client.Publish(ctx, "after-1.0.0.zip", bytes.NewReader(zip), s.Key.Sign(t, zip), client.Options{Legacy: true})
	t.Logf("publish after the removal: %v %+v (%v)", err, sub, time.Since(start))
	if err == nil && sub.Status == api.StatusPublished {
		t.Errorf("published into a removed store: %+v", sub)
	}
	// Several watch intervals (100 ms) and indexer passes later.
	time.Sleep(time.Second)
	if _, err := os.Stat(s.Data); !os.IsNotExist(err) {
		entries, _ := os.ReadDir(s.Data)
		t.Fatalf("the store made %s again (%v): %v", s.Data, err, entries)
	}
}
