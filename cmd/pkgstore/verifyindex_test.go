package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"pkgstore/internal/client"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/publish/indexsig"
	"pkgstore/internal/server"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/ziptest"
)

// TestVerifyIndexFindsBrokenLink: three passes of `pkgstore index
// --index-signing-key` make a chain verify-index accepts; a statement
// replaced by one signed with another key is the first break it reports.
func TestVerifyIndexFindsBrokenLink(t *testing.T) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "data")
	b, err := storage.Open(ctx, storage.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	key := sigtest.NewKey(t, "index")
	for _, name := range []string{"alpha", "beta", "gamma"} {
		id := packageid.ID{Name: name, Version: "1.0.0"}
		if err := b.Public.CreateIfAbsent(ctx, storage.ZipKey(id), bytes.NewReader(ziptest.Package(t, id.Name, id.Version)), nil); err != nil {
			t.Fatal(err)
		}
		if out, errOut, code := runCLI(t, "index", "--data", data, "--index-signing-key", key.PrivatePath); code != 0 {
			t.Fatalf("index: %d %s %s", code, out, errOut)
		}
	}
	out, errOut, code := runCLI(t, "verify-index", "--data", data, "--index-keyring", key.PublicPath)
	if code != 0 || !strings.Contains(out, "3 of 3 statements verified") {
		t.Fatalf("verify-index of a good chain: %d\n%s%s", code, out, errOut)
	}

	// Statement 2 replaced by one signed with another key.
	doc, err := indexsig.ReadDocument(ctx, b.Internal, storage.TrustStatementKey(2), indexsig.MaxStatementSize)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := indexsig.Sign(sigtest.NewKey(t, "intruder").Signer, doc.Body)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(forged)
	if err := b.Internal.WriteAll(ctx, storage.TrustStatementKey(2), raw, nil); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runCLI(t, "verify-index", "--data", data, "--index-keyring", key.PublicPath)
	if code != 1 || !strings.Contains(out, "first break: statement 2") || !strings.Contains(out, "not signed by a trusted key") {
		t.Fatalf("verify-index of a forged link: %d\n%s%s", code, out, errOut)
	}
	out, _, code = runCLI(t, "verify-index", "--data", data, "--index-keyring", key.PublicPath, "--format", "json")
	var rep struct {
		Checked  int                  `json:"checked"`
		Break    *indexsig.ChainBreak `json:"break"`
		ExitCode int                  `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if code != 1 || rep.ExitCode != 1 || rep.Checked != 1 || rep.Break == nil || rep.Break.Version != 2 {
		t.Fatalf("json report %+v (exit %d)", rep, code)
	}
	if _, _, code := runCLI(t, "verify-index", "--data", data); code != 2 {
		t.Fatalf("no keyring: exit %d, want 2", code)
	}
}

// TestVerifyIndexFromRegistry walks the chain a running store serves.
func TestVerifyIndexFromRegistry(t *testing.T) {
	key := sigtest.NewKey(t, "index")
	s := servertest.Start(t, servertest.Options{Memory: true, Configure: func(c *server.Config) {
		c.Trust = server.TrustConfig{SigningKey: key.PrivatePath}
	}})
	s.Publish(t, "one-1.0.0.zip", ziptest.Package(t, "one", "1.0.0"), client.Options{Legacy: true})
	s.WaitVisible(t, "one", "1.0.0")
	out, errOut, code := runCLI(t, "verify-index", "--registry", s.URL, "--index-keyring", key.PublicPath)
	if code != 0 || !strings.Contains(out, "2 of 2 statements verified") {
		t.Fatalf("verify-index --registry: %d\n%s%s", code, out, errOut)
	}
	other := sigtest.NewKey(t, "other")
	if out, _, code := runCLI(t, "verify-index", "--registry", s.URL, "--index-keyring", other.PublicPath); code != 1 || !strings.Contains(out, "first break: statement 1") {
		t.Fatalf("verify-index --registry with another key: %d\n%s", code, out)
	}
}
