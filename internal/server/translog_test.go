package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/client/logcheck"
	"pkgstore/internal/govern/translog"
	"pkgstore/internal/govern/yank"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/server"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/ziptest"
)

// logKeys writes a new log signer key file and returns it with the
// verifier key's text.
func logKeys(t *testing.T) (string, string) {
	t.Helper()
	skey, vkey, err := translog.GenerateKey("store.test")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "log.key")
	if err := os.WriteFile(file, []byte(skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return file, vkey
}

func startLogged(t *testing.T, data string, key *sigtest.Key, logKey string, readOnly bool) *servertest.Store {
	t.Helper()
	return servertest.Start(t, servertest.Options{Data: data, Key: key, Configure: func(c *server.Config) {
		c.LogKey = logKey
		c.ReadOnly = readOnly
	}})
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func verifier(t *testing.T, vkey string) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestTransparencyLogOfPublications: publications and yanks are in the
// log, provable by a client that trusts only the verifier key; a
// read-only replica of the buckets serves the same log.
func TestTransparencyLogOfPublications(t *testing.T) {
	ctx := context.Background()
	keyFile, vkey := logKeys(t)
	data := filepath.Join(t.TempDir(), "data")
	s := startLogged(t, data, nil, keyFile, false)
	zips := map[packageid.ID][]byte{}
	for _, id := range []packageid.ID{{Name: "alpha", Version: "1.0.0"}, {Name: "alpha", Version: "1.0.1"}, {Name: "beta", Version: "2.0.0"}} {
		zip := ziptest.Package(t, id.Name, id.Version)
		if sub := s.Publish(t, id.ZipName(), zip, client.Options{Legacy: true}); sub.Status != api.StatusPublished {
			t.Fatalf("%s: %s %+v", id, sub.Status, sub.Reasons)
		}
		zips[id] = zip
	}
	yanked := packageid.ID{Name: "alpha", Version: "1.0.0"}
	if _, _, err := s.Server.Yanks.Set(ctx, yank.Change{ID: yanked, Yank: true, Reason: "broken"}); err != nil {
		t.Fatal(err)
	}
	c := logcheck.New(s.URL, verifier(t, vkey), nil)
	for id, zip := range zips {
		if _, err := c.CheckRevision(ctx, id, sum(zip)); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	rep, err := c.Monitor(ctx, t.TempDir())
	if err != nil || rep.Records != 4 || rep.Publications != 3 {
		t.Fatalf("monitor: %+v %v", rep, err)
	}
	// Another zip of a published NAME-VERSION is not published, and the
	// log keeps one record of it.
	other := ziptest.Package(t, "beta", "2.0.0", ziptest.Entry{Name: "docs/other.md", Body: []byte("other\n")})
	if sub := s.Publish(t, "beta-2.0.0.zip", other, client.Options{Legacy: true}); sub.Status != api.StatusRejected {
		t.Fatalf("second beta-2.0.0: %s", sub.Status)
	}
	_, err = c.CheckRevision(ctx, packageid.ID{Name: "beta", Version: "2.0.0"}, sum(other))
	if !errors.Is(err, logcheck.ErrBroken) {
		t.Fatalf("the other zip checked against the log: %v", err)
	}
	s.Stop()
	replica := startLogged(t, data, s.Key, "", true)
	rc := logcheck.New(replica.URL, verifier(t, vkey), nil)
	if _, err := rc.CheckRevision(ctx, yanked, sum(zips[yanked])); err != nil {
		t.Fatalf("replica: %v", err)
	}
}

// TestTransparencyLogCrash kills a store at each step of a publication,
// from its audit record to the zip, the log's own steps included; after a
// restart the revision is published, in the log once, with its bytes.
func TestTransparencyLogCrash(t *testing.T) {
	steps := []string{"audit", "event", "record", "hashes", "index", "head", "log", "zip"}
	key := servertest.Start(t, servertest.Options{Memory: true}).Key
	keyFile, vkey := logKeys(t)
	t.Setenv("PKGSTORE_TEST_LOGKEY", keyFile)
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			ctx := context.Background()
			data := filepath.Join(t.TempDir(), "data")
			ch := startChild(t, data, key.PublicPath, step)
			zip := ziptest.Package(t, "crash", "1.0.0")
			_, _ = ch.Client.Publish(ctx, "crash-1.0.0.zip", bytes.NewReader(zip), key.Sign(t, zip), client.Options{Legacy: true})
			if code := ch.exitCode(t); code != crashExit {
				t.Fatalf("child exited %d, want the injected crash %d", code, crashExit)
			}
			s := startLogged(t, data, key, keyFile, false)
			s.WaitVisible(t, "crash", "1.0.0")
			waitQueueEmpty(t, s)
			if sub := onlySubmission(t, s); sub.Status != api.StatusPublished {
				t.Fatalf("after recovery: %s %+v", sub.Status, sub.Reasons)
			}
			c := logcheck.New(s.URL, verifier(t, vkey), nil)
			if _, err := c.CheckRevision(ctx, packageid.ID{Name: "crash", Version: "1.0.0"}, sum(zip)); err != nil {
				t.Fatal(err)
			}
			if rep, err := c.Monitor(ctx, t.TempDir()); err != nil || rep.Records != 1 {
				t.Fatalf("monitor: %+v %v", rep, err)
			}
		})
	}
}
