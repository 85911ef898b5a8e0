package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"pkgstore/internal/api"
	"slices"
	"strings"
	"testing"
	"time"

	"pkgstore/internal/client"
	"pkgstore/internal/govern/audit"
	"pkgstore/internal/govern/tokens"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/publish/index"
	"pkgstore/internal/server"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/buftest"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/storagetest"
	"pkgstore/internal/testkit/ziptest"
)

// Secrets of the governance tests: distinctive, so that a leak shows in a
// grep of logs and buckets.
const (
	secretAWS     = "pkgstore_secret-aws-publisher-5d1f"
	secretCisco   = "pkgstore_secret-cisco-publisher-77c2"
	secretExpired = "pkgstore_secret-expired-publisher-77a0"
	secretYank    = "pkgstore_secret-aws-yanker-c3b9"
	secretAudit   = "pkgstore_secret-auditor-e2f4"
	secretUnknown = "pkgstore_secret-nobody-0000"
)

var allSecrets = []string{secretAWS, secretCisco, secretExpired, secretYank, secretAudit, secretUnknown, servertest.Token}

// writeTokens writes a tokens file for the governance tests.
func writeTokens(t *testing.T) string {
	t.Helper()
	past := time.Now().Add(-time.Hour)
	var b strings.Builder
	b.WriteString("tokens:\n")
	for _, tk := range []struct {
		name, secret string
		scopes       []tokens.Scope
		pkgs         []string
		exp          *time.Time
	}{
		{"ci-aws", secretAWS, []tokens.Scope{tokens.ScopePublish}, []string{"aws*"}, nil},
		{"ci-cisco", secretCisco, []tokens.Scope{tokens.ScopePublish}, []string{"cisco_*"}, nil},
		{"ci-old", secretExpired, []tokens.Scope{tokens.ScopePublish}, []string{"*"}, &past},
		{"aws-yanker", secretYank, []tokens.Scope{tokens.ScopeYank, tokens.ScopeAudit}, []string{"aws*"}, nil},
		{"auditor", secretAudit, []tokens.Scope{tokens.ScopeAudit}, []string{"*"}, nil},
	} {
		tok, err := tokens.New(tk.name, tk.secret, tk.scopes, tk.pkgs, tk.exp)
		if err != nil {
			t.Fatal(err)
		}
		y, err := tok.YAML()
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(y)
	}
	path := filepath.Join(t.TempDir(), "tokens.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func newClient(t *testing.T, s *servertest.Store, secret string) *client.Client {
	t.Helper()
	c, err := client.New(s.URL, secret)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// governedStore starts a store with the test tokens file, logging into
// the returned buffer; storage is a folder, or cloud buckets when urls are
// given.
func governedStore(t *testing.T, urls ...string) (*servertest.Store, *buftest.Buffer) {
	t.Helper()
	logs := &buftest.Buffer{}
	tf := writeTokens(t)
	s := servertest.Start(t, servertest.Options{Configure: func(c *server.Config) {
		c.TokensFile = tf
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		if len(urls) == 2 {
			c.Storage = storage.Config{PublicURL: urls[0], InternalURL: urls[1]}
		}
	}})
	return s, logs
}

func apiStatus(err error) int {
	var ae *client.APIError
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

// TestGovernance: scoped tokens, audit records of every outcome, yank and
// unyank, on a folder and on cloud buckets.
func TestGovernance(t *testing.T) {
	backends := []struct {
		name string
		urls func(t *testing.T) []string
	}{{"file", func(*testing.T) []string { return nil }}}
	for _, be := range storagetest.Backends {
		backends = append(backends, struct {
			name string
			urls func(t *testing.T) []string
		}{be.Name, func(t *testing.T) []string {
			srv := be.Start(t)
			return []string{srv.NewBucket(t), srv.NewBucket(t)}
		}})
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			s, logs := governedStore(t, be.urls(t)...)
			testGovernance(t, s, logs)
		})
	}
}

func testGovernance(t *testing.T, s *servertest.Store, logs *buftest.Buffer) {
	ctx := context.Background()
	aws := newClient(t, s, secretAWS)
	auditor := newClient(t, s, secretAudit)
	yanker := newClient(t, s, secretYank)
	zip := ziptest.Package(t, "aws", "2.3.1")
	sum := sha256.Sum256(zip)

	// Allowed: a named token within its pattern.
	sub, err := aws.Publish(ctx, "aws-2.3.1.zip", bytes.NewReader(zip), s.Key.Sign(t, zip), client.Options{Legacy: true})
	if err != nil || sub.Status != api.StatusPublished {
		t.Fatalf("publish aws with ci-aws: %+v, %v", sub, err)
	}
	if sub.Token != "ci-aws" {
		t.Fatalf("submission token %q, want ci-aws", sub.Token)
	}
	s.WaitVisible(t, "aws", "2.3.1")

	// A submission is visible to tokens that may publish its package only;
	// to others it answers as unknown.
	for secret, want := range map[string]int{secretAWS: http.StatusOK, secretCisco: http.StatusNotFound} {
		req, err := http.NewRequest(http.MethodGet, s.URL+"/api/v1/publish/"+sub.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("submission of aws with token secret %s…: %d, want %d", secret[:24], resp.StatusCode, want)
		}
	}

	// Refused: outside the pattern, expired, unknown, wrong scope.
	cisco := ziptest.Package(t, "cisco_asa", "1.0.0")
	for _, tt := range []struct {
		secret, file, want string
		zip                []byte
	}{
		{secretAWS, "cisco_asa-1.0.0.zip", `token "ci-aws" may not publish package "cisco_asa": it is limited to packages "aws*"`, cisco},
		{secretExpired, "aws-2.3.2.zip", `token "ci-old" expired at`, ziptest.Package(t, "aws", "2.3.2")},
		{secretUnknown, "aws-2.3.3.zip", "the bearer token is not valid", ziptest.Package(t, "aws", "2.3.3")},
		{secretAudit, "aws-2.3.4.zip", `token "auditor" lacks the "publish" scope`, ziptest.Package(t, "aws", "2.3.4")},
	} {
		_, err := newClient(t, s, tt.secret).Submit(ctx, tt.file, bytes.NewReader(tt.zip), s.Key.Sign(t, tt.zip), client.Options{Legacy: true})
		if apiStatus(err) != http.StatusForbidden || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want 403 %q", tt.file, err, tt.want)
		}
		for _, other := range []string{"ci-aws", "ci-old", "aws-yanker", "auditor"} {
			if err != nil && strings.Contains(tt.want, other) == false && strings.Contains(err.Error(), `"`+other+`"`) {
				t.Errorf("%s: refusal %q reveals token %s", tt.file, err, other)
			}
		}
	}
	// Refused by the job (no signature), and a dry run.
	unsigned := ziptest.Package(t, "aws", "3.0.0")
	sub, err = aws.Publish(ctx, "aws-3.0.0.zip", bytes.NewReader(unsigned), nil, client.Options{Legacy: true})
	if err != nil || sub.Status != api.StatusRejected {
		t.Fatalf("unsigned: %+v %v", sub, err)
	}
	dry := ziptest.Package(t, "aws", "3.0.1")
	if sub, err = aws.Publish(ctx, "aws-3.0.1.zip", bytes.NewReader(dry), s.Key.Sign(t, dry), client.Options{Legacy: true, DryRun: true}); err != nil || sub.Status != api.StatusPassed {
		t.Fatalf("dry run: %+v %v", sub, err)
	}

	// "Who published aws 2.3.1, with which key, and when": one query.
	recs, err := auditor.AuditAll(ctx, client.AuditQuery{Package: "aws", Version: "2.3.1", Event: "published"})
	if err != nil || len(recs) != 1 {
		t.Fatalf("audit published aws 2.3.1: %d records, %v", len(recs), err)
	}
	pub := recs[0]
	if pub.Token != "ci-aws" || pub.Client != "127.0.0.1" || pub.Fingerprint != s.Key.Fingerprint || pub.SHA256 != hex.EncodeToString(sum[:]) || pub.Size != int64(len(zip)) || pub.Submission == "" || time.Since(pub.Time) > time.Minute {
		t.Fatalf("published record %+v", pub)
	}
	// Every outcome has its record.
	all, err := auditor.AuditAll(ctx, client.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range all {
		count[string(r.Event)+" "+r.Package+" "+r.Version+" "+r.Token]++
	}
	for _, want := range []string{
		"received aws 2.3.1 ci-aws", "published aws 2.3.1 ci-aws",
		// Refused before the package is known (the token alone is not
		// good for publishing anything), or on the package's name.
		"token_refused cisco_asa  ci-aws", "token_refused   ci-old", "token_refused   ", "token_refused   auditor",
		"received aws 3.0.0 ci-aws", "refused aws 3.0.0 ci-aws",
		"received aws 3.0.1 ci-aws", "passed aws 3.0.1 ci-aws",
	} {
		if count[want] != 1 {
			t.Errorf("%d records %q, want 1 (records: %v)", count[want], want, count)
		}
	}
	// Scope and pattern of the audit API itself.
	if _, err := aws.Audit(ctx, client.AuditQuery{}); apiStatus(err) != http.StatusForbidden {
		t.Errorf("audit with a publish-only token: %v", err)
	}
	if recs, err := yanker.AuditAll(ctx, client.AuditQuery{}); err != nil || len(recs) == 0 || slices.ContainsFunc(recs, func(r audit.Record) bool { return r.Package != "aws" }) {
		t.Errorf("an aws* auditor sees records of other packages (or none): %v", err)
	}

	// Yank: only with the yank scope, only with a reason.
	id := packageid.ID{Name: "aws", Version: "2.3.1"}
	if _, err := aws.Yank(ctx, id, true, "broken"); apiStatus(err) != http.StatusForbidden || !strings.Contains(err.Error(), `lacks the "yank" scope`) {
		t.Fatalf("yank with a publish token: %v", err)
	}
	if _, err := yanker.Yank(ctx, id, true, ""); apiStatus(err) != http.StatusBadRequest {
		t.Fatalf("yank without a reason: %v", err)
	}
	if _, err := yanker.Yank(ctx, packageid.ID{Name: "aws", Version: "9.9.9"}, true, "x"); apiStatus(err) != http.StatusNotFound {
		t.Fatalf("yank of an unpublished version: %v", err)
	}
	if cats := categoryCount(t, s, "", "custom"); cats != 1 {
		t.Fatalf("/categories counts %d packages in custom before the yank, want 1", cats)
	}
	res, err := yanker.Yank(ctx, id, true, "CVE-2026-0001: leaks credentials")
	if err != nil || !res.Changed || !res.State.Yanked || res.State.Token != "aws-yanker" {
		t.Fatalf("yank: %+v %v", res, err)
	}
	if res, err = yanker.Yank(ctx, id, true, "again"); err != nil || res.Changed {
		t.Fatalf("second yank: %+v %v", res, err)
	}
	waitSearch(t, s, "?package=aws&all=true", "aws-2.3.1", false)
	assertYankedServed(t, s, id, zip)
	for _, q := range []string{"", "?prerelease=true"} {
		if cats := categoryCount(t, s, q, "custom"); cats != 0 {
			t.Errorf("/categories%s counts %d packages in custom, want 0 (the only one is yanked)", q, cats)
		}
	}
	info, err := auditor.Revision(ctx, id)
	if err != nil || !info.Yanked || info.Yank.Reason != "CVE-2026-0001: leaks credentials" || info.Revision == nil || info.Revision.SHA256 != hex.EncodeToString(sum[:]) || info.Revision.Signer.Fingerprint != s.Key.Fingerprint {
		t.Fatalf("revision info: %+v %v", info, err)
	}
	// The index EPR reads lists it as removed.
	assertIndexed(t, s.Server.Buckets.Internal, id, false)
	// Write-once holds: the yanked version cannot be published again.
	sub, err = aws.Publish(ctx, "aws-2.3.1.zip", bytes.NewReader(zip), s.Key.Sign(t, zip), client.Options{Legacy: true})
	if err != nil || sub.Status != api.StatusRejected || !hasReason(sub, "duplicate", "already published") {
		t.Fatalf("republish of a yanked version: %+v %v", sub, err)
	}

	// Unyank.
	if res, err = yanker.Yank(ctx, id, false, "fixed downstream"); err != nil || !res.Changed || res.State.Yanked {
		t.Fatalf("unyank: %+v %v", res, err)
	}
	waitSearch(t, s, "?package=aws", "aws-2.3.1", true)
	assertIndexed(t, s.Server.Buckets.Internal, id, true)
	yanks, err := auditor.AuditAll(ctx, client.AuditQuery{Package: "aws", Version: "2.3.1"})
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, r := range yanks {
		events = append(events, string(r.Event))
	}
	if want := []string{"received", "published", "yanked", "received", "refused", "unyanked"}; !slices.Equal(events, want) {
		t.Errorf("aws 2.3.1 history %v, want %v", events, want)
	}

	// No secret anywhere: logs, records, buckets.
	assertNoSecrets(t, "the log", []byte(logs.String()))
	for name, b := range map[string]*storage.Bucket{"public": s.Server.Buckets.Public, "internal": s.Server.Buckets.Internal} {
		objs, err := b.ListAll(ctx, &storage.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			data, err := b.ReadAll(ctx, o.Key)
			if err != nil {
				t.Fatal(err)
			}
			assertNoSecrets(t, name+" "+o.Key, append([]byte(o.Key), data...))
		}
	}
}

func assertNoSecrets(t *testing.T, where string, data []byte) {
	t.Helper()
	for _, s := range allSecrets {
		if bytes.Contains(data, []byte(s)) {
			t.Errorf("%s contains the secret %q", where, s)
		}
		if d := tokens.Digest(s); bytes.Contains(data, []byte(d)) {
			t.Errorf("%s contains the digest of secret %q", where, s)
		}
	}
}

// waitSearch waits until /search+query lists id (present) or not.
func waitSearch(t *testing.T, s *servertest.Store, query, id string, present bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := searchIDs(t, s, query)
		if slices.Contains(got, id) == present {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/search%s = %v after 20s; want %s present=%v", query, got, id, present)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func categoryCount(t *testing.T, s *servertest.Store, query, cat string) int {
	t.Helper()
	code, body := s.Get(t, "/categories"+query)
	if code != http.StatusOK {
		t.Fatalf("/categories%s: %d", query, code)
	}
	var cats []struct {
		ID    string `json:"id"`
		Count int    `json:"count"`
	}
	if err := json.Unmarshal(body, &cats); err != nil {
		t.Fatal(err)
	}
	for _, c := range cats {
		if c.ID == cat {
			return c.Count
		}
	}
	return 0
}

// assertYankedServed checks that whatever is pinned to a yanked revision
// still works, and that search no longer offers it.
func assertYankedServed(t *testing.T, s *servertest.Store, id packageid.ID, zip []byte) {
	t.Helper()
	for _, q := range []string{"?package=" + id.Name, "?package=" + id.Name + "&all=true", "?all=true", "?all=true&prerelease=true"} {
		if got := searchIDs(t, s, q); slices.Contains(got, id.String()) {
			t.Errorf("/search%s still offers yanked %s", q, id)
		}
	}
	code, doc := s.Get(t, "/package/"+id.Name+"/"+id.Version+"/")
	if code != http.StatusOK || !bytes.Contains(doc, []byte(`"version": "`+id.Version+`"`)) {
		t.Fatalf("/package/%s/%s/ of a yanked revision: %d %s", id.Name, id.Version, code, doc)
	}
	if code, body := s.Get(t, "/epr/"+id.Name+"/"+id.ZipName()); code != http.StatusOK || !bytes.Equal(body, zip) {
		t.Fatalf("zip of a yanked revision: %d", code)
	}
	if code, _ := s.Get(t, "/epr/"+id.Name+"/"+id.ZipName()+".sig"); code != http.StatusOK {
		t.Fatalf("signature of a yanked revision: %d", code)
	}
	if code, _ := s.Get(t, "/package/"+id.Name+"/"+id.Version+"/manifest.yml"); code != http.StatusOK {
		t.Fatalf("static file of a yanked revision: %d", code)
	}
}

// assertIndexed checks the index EPR reads: whether id is in
// search-index-all.json, and, when it is not, that the delta that dropped
// it lists it as removed.
func assertIndexed(t *testing.T, b *storage.Bucket, id packageid.ID, want bool) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for {
		cur, err := index.ReadCursor(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		if err := index.ReadAll(ctx, b, cur, func(e index.Entry) error {
			found = found || e.ID == id
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if found == want {
			if !want {
				r, err := b.NewReader(ctx, storage.IndexDeltaKey(cur))
				if err != nil {
					t.Fatal(err)
				}
				delta, _ := io.ReadAll(r)
				r.Close()
				if !bytes.Contains(delta, []byte(`{"name":"`+id.Name+`","version":"`+id.Version+`"}`)) {
					t.Fatalf("delta of cursor %s does not remove %s: %s", cur, id, delta)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s in the index: %v, want %v", id, found, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTokensReloadedByServer: a running store picks up a new token and a
// revocation from its tokens file without a restart.
func TestTokensReloadedByServer(t *testing.T) {
	s, _ := governedStore(t)
	ctx := context.Background()
	newcomer := "pkgstore_secret-newcomer-81aa"
	tok, err := tokens.New("newcomer", newcomer, []tokens.Scope{tokens.ScopePublish}, []string{"new*"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	entry, _ := tok.YAML()
	path := s.Server.Tokens.Path()
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zip := ziptest.Package(t, "newpkg", "1.0.0")
	c := newClient(t, s, newcomer)
	if _, err := c.Submit(ctx, "newpkg-1.0.0.zip", bytes.NewReader(zip), s.Key.Sign(t, zip), client.Options{Legacy: true, DryRun: true}); apiStatus(err) != http.StatusForbidden {
		t.Fatalf("before the reload: %v", err)
	}
	if err := os.WriteFile(path, append(old, entry...), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		sub, err := c.Publish(ctx, "newpkg-1.0.0.zip", bytes.NewReader(zip), s.Key.Sign(t, zip), client.Options{Legacy: true, DryRun: true})
		if err == nil && sub.Status == api.StatusPassed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new token not accepted 10s after the file changed: %+v %v", sub, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Revoked: the entry goes, the secret stops working.
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := c.Submit(ctx, "newpkg-1.0.0.zip", bytes.NewReader(zip), s.Key.Sign(t, zip), client.Options{Legacy: true, DryRun: true})
		if apiStatus(err) == http.StatusForbidden {
			break
		}
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("revoked token still accepted: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAbandonedUploadRecorded: an upload that never became a submission
// (its process died) is dropped after an hour, and the audit log says so,
// closing the history its "received" record may have opened.
func TestAbandonedUploadRecorded(t *testing.T) {
	s := servertest.Start(t, servertest.Options{})
	ctx := context.Background()
	id := fmt.Sprintf("%019d-%s", time.Now().Add(-2*time.Hour).UnixNano(), "0123456789ab")
	if err := s.Server.Buckets.Internal.WriteAll(ctx, storage.QueueDir(id)+"gone-1.0.0.zip", ziptest.Package(t, "gone", "1.0.0"), nil); err != nil {
		t.Fatal(err)
	}
	s.Server.Publisher.Recover(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs, err := s.Server.Audit.All(ctx, audit.Query{Package: "gone"})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 1 {
			r := recs[0]
			if r.Event != audit.Refused || r.Submission != id || r.Version != "1.0.0" || len(r.Reasons) != 1 || !strings.Contains(r.Reasons[0], "never completed") {
				t.Fatalf("record %+v", r)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d records after 10s, want 1", len(recs))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for {
		if ok, _ := s.Server.Buckets.Internal.Exists(ctx, storage.QueueDir(id)+"gone-1.0.0.zip"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("abandoned upload left in the queue")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
