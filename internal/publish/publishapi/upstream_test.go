package publishapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/govern/provenance"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/publish"
	"pkgstore/internal/storage"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sigtest"
	"pkgstore/internal/testkit/ziptest"
)

type part struct {
	name, file string
	body       []byte
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// post sends the parts in order to the store's publishing API.
func post(t *testing.T, s *servertest.Store, parts []part) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.file != "" {
			w, err = mw.CreateFormFile(p.name, p.file)
		} else {
			w, err = mw.CreateFormField(p.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.body)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/v1/publish", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+servertest.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// nothingPublic fails when the public bucket holds any file of name.
func nothingPublic(t *testing.T, s *servertest.Store, name string) {
	t.Helper()
	objs, err := s.Server.Buckets.Public.ListAll(context.Background(), &storage.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if strings.Contains(o.Key, name) {
			t.Errorf("the public bucket holds %s after a refusal", o.Key)
		}
	}
}

// TestUpstreamSignaturePart (issue 24): the publishing API's
// upstream_signature part. A re-signed candidate keeps the upstream's
// signature in its provenance; a part that is not an armored signature,
// or that comes after the package, is refused at upload; one without a
// signature, or one the store's keyring finds not matching the zip, is
// refused by the job; none leaves anything in the public bucket.
func TestUpstreamSignaturePart(t *testing.T) {
	site, owner := sigtest.NewKey(t, "site"), sigtest.NewKey(t, "owner")
	s := servertest.Start(t, servertest.Options{Key: site})
	ctx := context.Background()

	zip := ziptest.Package(t, "good", "1.0.0")
	upSig := owner.Sign(t, zip)
	sub, err := s.Client.Publish(ctx, "good-1.0.0.zip", bytes.NewReader(zip), site.Sign(t, zip), client.Options{Legacy: true, UpstreamSignature: upSig})
	if err != nil || sub.Status != api.StatusPublished {
		t.Fatalf("re-signed publish: %v %+v", err, sub)
	}
	rev, err := provenance.Read(ctx, s.Server.Buckets.Internal, packageid.ID{Name: "good", Version: "1.0.0"})
	if err != nil || rev.UpstreamSignature != string(upSig) || rev.UpstreamSigner != nil || rev.Signer == nil || rev.Signer.Fingerprint != site.Fingerprint {
		t.Fatalf("provenance %+v (%v): want the upstream's signature kept, no upstream signer (key not in the keyring), the site as signer", rev, err)
	}
	// Old clients: no part, no upstream record.
	plain := ziptest.Package(t, "plain", "1.0.0")
	if sub := s.Publish(t, "plain-1.0.0.zip", plain, client.Options{Legacy: true}); sub.Status != api.StatusPublished {
		t.Fatalf("publish without the part: %+v", sub)
	}
	if rev, err := provenance.Read(ctx, s.Server.Buckets.Internal, packageid.ID{Name: "plain", Version: "1.0.0"}); err != nil || rev.UpstreamSignature != "" || rev.UpstreamSigner != nil {
		t.Fatalf("provenance without the part: %+v %v", rev, err)
	}

	bad := ziptest.Package(t, "bad", "1.0.0")
	badSig := site.Sign(t, bad)
	for _, c := range []struct {
		name  string
		parts []part
		want  string
	}{
		{"garbage", []part{{"legacy", "", []byte("true")}, {"signature", "s", badSig}, {"upstream_signature", "u", []byte("<html>not a signature</html>")}, {"package", "bad-1.0.0.zip", bad}}, "upstream_signature"},
		{"public key", []part{{"signature", "s", badSig}, {"upstream_signature", "u", mustRead(t, owner.PublicPath)}, {"package", "bad-1.0.0.zip", bad}}, "armor block is"},
		{"after the package", []part{{"signature", "s", badSig}, {"package", "bad-1.0.0.zip", bad}, {"upstream_signature", "u", owner.Sign(t, bad)}}, "must come before"},
		{"too large", []part{{"signature", "s", badSig}, {"upstream_signature", "u", bytes.Repeat([]byte("A"), 70<<10)}, {"package", "bad-1.0.0.zip", bad}}, "upstream_signature"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := post(t, s, c.parts)
			if code != http.StatusBadRequest || !strings.Contains(body, c.want) {
				t.Errorf("answer %d %s, want 400 mentioning %q", code, body, c.want)
			}
			nothingPublic(t, s, "bad-1.0.0")
		})
	}

	// Through the queue (pkgstore queue, the pull-through cache): the
	// job checks the same.
	for _, c := range []struct {
		name string
		sig  []byte
		up   []byte
		want string
	}{
		{"garbage", badSig, []byte("garbage"), "not one armored OpenPGP signature"},
		{"without a signature", nil, owner.Sign(t, bad), "sent without a signature"},
		{"does not match the zip", badSig, site.Sign(t, []byte("other bytes")), "does not verify over the zip"},
	} {
		t.Run("job/"+c.name, func(t *testing.T) {
			sub, err := s.Server.Publisher.Submit(ctx, publish.Candidate{FileName: "bad-1.0.0.zip", Zip: bytes.NewReader(bad), Signature: c.sig, Options: publish.Options{Legacy: true, UpstreamSignature: c.up}})
			if err == nil && !sub.Status.Final() {
				sub, err = s.Server.Publisher.Wait(ctx, sub.ID)
			}
			if err != nil {
				t.Fatal(err)
			}
			j, _ := json.Marshal(sub.Reasons)
			if sub.Status != api.StatusRejected || !strings.Contains(string(j), c.want) {
				t.Errorf("submission %s %s, want rejected mentioning %q", sub.Status, j, c.want)
			}
			nothingPublic(t, s, "bad-1.0.0")
		})
	}
}
