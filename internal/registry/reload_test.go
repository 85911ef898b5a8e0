package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"pkgstore/internal/api"
	"pkgstore/internal/testkit/storagetest"
	"sync"
	"testing"
	"time"

	"pkgstore/internal/builder"
	"pkgstore/internal/client"
	"pkgstore/internal/registry"
	"pkgstore/internal/testkit/servertest"
)

// TestReadOnlyReplicaNeverServesPartialIndex publishes revisions one after
// the other through a real store while a read-only registry over the same
// folders polls the cursor every few milliseconds. Every /search answer of
// the replica must be exactly the first k published revisions for some k,
// k never decreasing: an index is visible whole or not at all.
func TestReadOnlyReplicaNeverServesPartialIndex(t *testing.T) {
	pkgRoot := filepath.Join(sharedDir(t), "testdata", "epr-packages", "package")
	var order []string // name@version in publish order
	var zips [][]byte
	for _, nv := range [][2]string{
		{"example", "1.0.0"}, {"example", "1.1.0"}, {"multiversion", "1.0.3"}, {"multiversion", "1.0.4"},
		{"multiversion", "1.2.0"}, {"foo", "1.0.0"}, {"hidden", "1.0.0"}, {"ilm_policy", "1.0.0"},
		{"yamlpipeline", "1.0.0"}, {"metricsonly", "2.0.1"}, {"longdocs", "1.0.4"}, {"reference", "1.0.0"},
	} {
		order = append(order, nv[0]+"@"+nv[1])
		zips = append(zips, zipDir(t, filepath.Join(pkgRoot, nv[0], nv[1])))
	}

	st := servertest.Start(t, servertest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := storagetest.OpenData(t, st.Data)
	replica, err := registry.New(registry.Config{Buckets: b, AllowUnknownQueryParams: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); replica.Watch(ctx, 2*time.Millisecond) }()
	defer wg.Wait()
	defer cancel()
	srv := httptest.NewServer(replica)
	defer srv.Close()

	checkerDone := make(chan struct{})
	stop := make(chan struct{})
	var observed []int
	var failure string
	go func() {
		defer close(checkerDone)
		last := 0
		for {
			// After stop, one last look: the publisher may have seen the
			// full index before this loop's latest answer did.
			stopping := false
			select {
			case <-stop:
				stopping = true
			default:
			}
			ids, err := searchAll(srv.URL)
			if err != nil {
				if stopping {
					return
				}
				continue // not ready yet
			}
			if len(ids) < last {
				failure = "the replica went back in time"
				return
			}
			for i, id := range ids {
				if i >= len(order) || !contains(order[:len(ids)], id) {
					failure = "answer is not a prefix of the publish order: " + id
					return
				}
			}
			if len(ids) != last {
				observed = append(observed, len(ids))
			}
			last = len(ids)
			if stopping {
				return
			}
		}
	}()

	for i, z := range zips {
		sub := st.Publish(t, order[i][:indexByte(order[i], '@')]+"-"+order[i][indexByte(order[i], '@')+1:]+".zip", z, client.Options{Legacy: true})
		if sub.Status != api.StatusPublished {
			t.Fatalf("publish %s: %s %v", order[i], sub.Status, sub.Reasons)
		}
		st.WaitVisible(t, order[i][:indexByte(order[i], '@')], order[i][indexByte(order[i], '@')+1:])
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if ids, err := searchAll(srv.URL); err == nil && len(ids) == len(order) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	<-checkerDone
	if failure != "" {
		t.Fatal(failure)
	}
	if len(observed) == 0 || observed[len(observed)-1] != len(order) {
		t.Fatalf("replica never showed all %d revisions (saw %v)", len(order), observed)
	}
	t.Logf("replica went through index sizes %v", observed)
}

func searchAll(base string) ([]string, error) {
	resp, err := http.Get(base + "/search?all=true&prerelease=true")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var list []struct{ Name, Version string }
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, err
	}
	ids := make([]string, len(list))
	for i, p := range list {
		ids[i] = p.Name + "@" + p.Version
	}
	return ids, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func indexByte(s string, c byte) int {
	for i := range len(s) {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// zipDir zips a v1-style package folder NAME/VERSION with the project's
// builder.
func zipDir(t testing.TB, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, _, err := builder.WriteV1(context.Background(), &buf, dir); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
