package mirror_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"pkgstore/internal/client/mirror"
	"pkgstore/internal/client/syncv1"
	"pkgstore/internal/testkit/servertest"
	"pkgstore/internal/testkit/sharedtest"
	"pkgstore/internal/testkit/sigtest"
)

// ociRegistry is go-containerregistry's registry on loopback, counting
// blob uploads and, when hook is set, letting a test answer instead of it.
type ociRegistry struct {
	Host string
	// user:password required when set (basic auth, as a site registry).
	auth string

	mu      sync.Mutex
	uploads int // POST /v2/.../blobs/uploads/: one per blob uploaded
	puts    int // PUT of a blob upload
	gets    map[string]int
	hook    func(w http.ResponseWriter, r *http.Request, inner http.Handler) bool
}

func startRegistry(t testing.TB) *ociRegistry {
	t.Helper()
	reg := &ociRegistry{gets: map[string]int{}}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reg.mu.Lock()
		auth, hook := reg.auth, reg.hook
		reg.mu.Unlock()
		if auth != "" {
			if u, p, ok := r.BasicAuth(); !ok || u+":"+p != auth {
				w.Header().Set("WWW-Authenticate", `Basic realm="site"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
				return
			}
		}
		reg.mu.Lock()
		switch {
		case r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads"):
			reg.uploads++
		case r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads"):
			reg.puts++
		case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/"):
			reg.gets[r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]]++
		}
		reg.mu.Unlock()
		if hook != nil && hook(w, r, inner) {
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	reg.Host = strings.TrimPrefix(srv.URL, "http://")
	return reg
}

func (r *ociRegistry) counts() (uploads, puts, blobGets int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.gets {
		blobGets += n
	}
	return r.uploads, r.puts, blobGets
}

func (r *ociRegistry) setHook(h func(w http.ResponseWriter, r *http.Request, inner http.Handler) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hook = h
}

func (r *ociRegistry) ref(repoTag string) string { return "oci://" + r.Host + "/" + repoTag }

// pushOCI mirrors the selection f of up into the registry.
func pushOCI(t testing.TB, up *servertest.Store, key, op *sigtest.Key, f mirror.Filters, ref string) *mirror.Summary {
	t.Helper()
	sum, err := mirror.Run(context.Background(), mirror.Config{From: up.URL, Filters: f, Keyring: key.Keyring, OCI: &mirror.OCITarget{Ref: ref, PlainHTTP: true}, SignKey: op.Signer, Retry: fastRetry, Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }})
	if err != nil || !sum.OK() {
		t.Fatalf("mirror to %s: %v %+v", ref, err, sum)
	}
	return sum
}

func importOCI(ref string, site *servertest.Store, key, op *sigtest.Key, src mirror.OCISource) (*mirror.Summary, error) {
	src.PlainHTTP = true
	return mirror.Import(context.Background(), mirror.ImportConfig{Bundle: ref, To: site.Client, Keyring: key.Keyring, BundleKeyring: op.Keyring, Retry: fastRetry, OCI: src})
}

// storeFile reads a revision's zip or signature as the store serves it.
func storeFile(t testing.TB, s *servertest.Store, id string, sig bool) []byte {
	t.Helper()
	p := "/epr/" + id[:strings.LastIndex(id[:strings.LastIndex(id, ".")], "-")] + "/" + id + ".zip"
	if sig {
		p += ".sig"
	}
	code, b := get(t, s.URL+p)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d", p, code)
	}
	return b
}

// TestOCIRoundTrip: upstream → OCI registry (credentials from the Docker
// config file) → empty store, byte-identical; the layout is plain OCI as
// crane reads it; a grown second push uploads only the new blobs; a pull
// of the new tag downloads only what the site lacks.
func TestOCIRoundTrip(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	op := sigtest.NewKey(t, "operator")
	up, zips := storeUpstream(t, key, catalog)
	reg := startRegistry(t)
	reg.auth = "site:s3cret"
	cfgDir := t.TempDir()
	conf := `{"auths":{"` + reg.Host + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte(reg.auth)) + `"}}}`
	if err := os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", cfgDir)

	// First push: the newest version of each package.
	v1ref := reg.ref("site/packages:v1")
	sum := pushOCI(t, up, key, op, mirror.Filters{}, v1ref)
	// config, manifest.json, its signature, and 4 revisions × 2.
	if sum.OCIBlobsUploaded != 3+4*2 || sum.OCIBlobsPresent != 0 {
		t.Errorf("first push: %d uploaded, %d present; want 11, 0", sum.OCIBlobsUploaded, sum.OCIBlobsPresent)
	}
	if up1, _, _ := reg.counts(); up1 != 11 {
		t.Errorf("first push: the registry saw %d blob uploads, want 11", up1)
	}

	// Plain OCI, as crane reads it.
	copts := []crane.Option{crane.Insecure, crane.WithAuth(basicAuth(reg.auth))}
	raw, err := crane.Manifest(strings.TrimPrefix(v1ref, "oci://"), copts...)
	if err != nil {
		t.Fatal(err)
	}
	var man v1.Manifest
	if err := json.Unmarshal(raw, &man); err != nil {
		t.Fatal(err)
	}
	if man.MediaType != "application/vnd.oci.image.manifest.v1+json" || man.ArtifactType != mirror.OCIArtifactType || man.Config.MediaType != "application/vnd.oci.empty.v1+json" || len(man.Layers) != 10 {
		t.Fatalf("manifest: %s", raw)
	}
	var titles []string
	for _, l := range man.Layers {
		titles = append(titles, l.Annotations["org.opencontainers.image.title"])
		if l.Size > int64(mirror.DefaultMaxZipSize) {
			t.Errorf("%s: blob of %d bytes", l.Digest, l.Size)
		}
	}
	if want := "manifest.json manifest.json.sig alpha-1.1.0.zip.sig alpha-1.1.0.zip awscloud-3.1.0.zip.sig awscloud-3.1.0.zip awslogs-2.0.0.zip.sig awslogs-2.0.0.zip beta-1.0.0.zip.sig beta-1.0.0.zip"; strings.Join(titles, " ") != want {
		t.Errorf("titles %q\nwant    %q", strings.Join(titles, " "), want)
	}
	repo := reg.Host + "/site/packages@"
	zl, err := crane.PullLayer(repo+man.Layers[3].Digest.String(), copts...)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := zl.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	zb, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(zb, zips["alpha-1.1.0"]) {
		t.Error("crane reads another alpha-1.1.0.zip than the upstream's")
	}
	if tags, err := crane.ListTags(reg.Host+"/site/packages", copts...); err != nil || strings.Join(tags, ",") != "v1" {
		t.Errorf("tags %v %v", tags, err)
	}

	// Into an empty site: byte-identical zips and signatures.
	site := servertest.Start(t, servertest.Options{Key: key})
	isum, err := importOCI(v1ref, site, key, op, mirror.OCISource{})
	if err != nil || !isum.OK() || isum.Transferred != 4 {
		t.Fatalf("import: %v %+v", err, isum)
	}
	for _, id := range []string{"alpha-1.1.0", "awscloud-3.1.0", "awslogs-2.0.0", "beta-1.0.0"} {
		site.WaitVisible(t, id[:strings.Index(id, "-")], id[strings.Index(id, "-")+1:])
		if !bytes.Equal(storeFile(t, site, id, false), zips[id]) || !bytes.Equal(storeFile(t, site, id, true), storeFile(t, up, id, true)) {
			t.Errorf("%s: zip or signature differs from the upstream's", id)
		}
	}
	for _, q := range []string{"", "?category=security", "?type=input"} {
		_, want := get(t, up.URL+"/search"+q)
		if _, got := get(t, site.URL+"/search"+q); !bytes.Equal(got, want) {
			t.Errorf("/search%s differs:\nsite     %.300s\nupstream %.300s", q, got, want)
		}
	}

	// A grown selection: only the two new revisions' blobs go up (and the
	// new manifest.json and its signature).
	before, _, _ := reg.counts()
	v2ref := reg.ref("site/packages:v2")
	sum = pushOCI(t, up, key, op, mirror.Filters{AllVersions: true}, v2ref)
	after, _, _ := reg.counts()
	if sum.OCIBlobsUploaded != 2+2*2 || after-before != 6 || sum.OCIBlobsPresent != 1+4*2 {
		t.Errorf("grown push: %d uploaded (registry saw %d), %d present; want 6 (2 revisions × 2, manifest.json, its signature), 9", sum.OCIBlobsUploaded, after-before, sum.OCIBlobsPresent)
	}

	// The pull of the new tag downloads only what the site lacks.
	_, _, getsBefore := reg.counts()
	isum, err = importOCI(v2ref, site, key, op, mirror.OCISource{})
	if err != nil || !isum.OK() || isum.Transferred != 2 || isum.Present != 4 {
		t.Fatalf("import v2: %v %+v", err, isum)
	}
	if _, _, g := reg.counts(); g-getsBefore != 2+2*2 {
		t.Errorf("import v2 downloaded %d blobs, want 6 (manifest.json, its signature, 2 revisions × 2)", g-getsBefore)
	}
	for _, id := range []string{"alpha-1.0.0", "beta-0.9.0"} {
		site.WaitVisible(t, id[:strings.Index(id, "-")], id[strings.Index(id, "-")+1:])
		if !bytes.Equal(storeFile(t, site, id, false), zips[id]) || !bytes.Equal(storeFile(t, site, id, true), storeFile(t, up, id, true)) {
			t.Errorf("%s: zip or signature differs from the upstream's", id)
		}
	}
	// Pushing the same selection again uploads at most the manifest's
	// new signature (an OpenPGP signature holds its creation time; the
	// manifest.json bytes are the same).
	before, _, _ = reg.counts()
	pushOCI(t, up, key, op, mirror.Filters{AllVersions: true}, v2ref)
	if after, _, _ := reg.counts(); after-before > 1 {
		t.Errorf("same push again uploaded %d blobs, want at most 1 (manifest.json.sig)", after-before)
	}
}

func basicAuth(userPass string) authn.Authenticator {
	u, p, _ := strings.Cut(userPass, ":")
	return &authn.Basic{Username: u, Password: p}
}

func TestOCIRefParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		okay bool
	}{
		{"oci://127.0.0.1:5000/site/packages:v1", true},
		{"oci://registry.example.com/a/b@sha256:" + strings.Repeat("a", 64), true},
		{"oci://localhost/x:y", true},
		{"oci://packages:v1", false},        // no host: would be Docker Hub
		{"127.0.0.1:5000/x:y", false},       // no scheme
		{"oci://127.0.0.1:5000/X:y", false}, // upper case repository
	} {
		_, err := mirror.ParseOCIRef(c.in, true)
		if (err == nil) != c.okay {
			t.Errorf("%s: %v", c.in, err)
		}
	}
}

// TestOCIHostileRegistry: each misbehaviour of a registry is bounded and
// refused with a clear error before anything is published.
func TestOCIHostileRegistry(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	op := sigtest.NewKey(t, "operator")
	up, _ := storeUpstream(t, key, catalog[:2])
	reg := startRegistry(t)
	ref := reg.ref("site/packages:v1")
	pushOCI(t, up, key, op, mirror.Filters{AllVersions: true}, ref)
	raw, err := crane.Manifest(strings.TrimPrefix(ref, "oci://"), crane.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	var man v1.Manifest
	if err := json.Unmarshal(raw, &man); err != nil {
		t.Fatal(err)
	}
	layer := func(title string) v1.Descriptor {
		for _, l := range man.Layers {
			if l.Annotations["org.opencontainers.image.title"] == title {
				return l
			}
		}
		t.Fatalf("no layer %s", title)
		return v1.Descriptor{}
	}
	zipDigest, zipSize := layer("alpha-1.1.0.zip").Digest.String(), layer("alpha-1.1.0.zip").Size
	isManifest := func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/")
	}
	isBlob := func(r *http.Request, d string) bool {
		return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+d)
	}
	serveManifest := func(w http.ResponseWriter, m v1.Manifest) {
		b, _ := json.Marshal(m)
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.Write(b)
	}
	endless := func(w http.ResponseWriter) {
		chunk := bytes.Repeat([]byte("A"), 64<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
	pushForged := func(t *testing.T) string {
		// A manifest.json the operator never signed: a zip of the
		// attacker's listed with its true digest.
		other := sigtest.NewKey(t, "attacker")
		forged, _ := storeUpstream(t, other, catalog[:1])
		r := reg.ref("site/forged:v1")
		sum, err := mirror.Run(context.Background(), mirror.Config{From: forged.URL, Filters: mirror.Filters{AllVersions: true}, Keyring: other.Keyring, OCI: &mirror.OCITarget{Ref: r, PlainHTTP: true}, SignKey: other.Signer, Retry: fastRetry})
		if err != nil || !sum.OK() {
			t.Fatal(err)
		}
		return r
	}

	cases := []struct {
		name string
		hook func(w http.ResponseWriter, r *http.Request, inner http.Handler) bool
		src  mirror.OCISource
		ref  func(t *testing.T) string
		want string
	}{
		{name: "huge manifest, no length", want: "OCI manifest larger than the 1048576 bytes accepted",
			src: mirror.OCISource{MaxManifestSize: 1 << 20},
			hook: func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
				if !isManifest(r) {
					return false
				}
				w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
				endless(w)
				return true
			}},
		{name: "huge manifest, declared", want: "more than the 16777216 accepted",
			hook: func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
				if !isManifest(r) {
					return false
				}
				w.Header().Set("Content-Length", "1000000000")
				w.WriteHeader(http.StatusOK)
				return true
			}},
		{name: "too many layers", want: "lists 13 layers, more than the 12 accepted",
			src: mirror.OCISource{MaxLayers: 12},
			hook: func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
				if !isManifest(r) {
					return false
				}
				m := man
				for i := range 7 {
					m.Layers = append(m.Layers, v1.Descriptor{MediaType: "application/zip", Size: 1, Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat(string(rune('0'+i)), 64)}, Annotations: map[string]string{"org.opencontainers.image.title": "x" + itoa(i) + ".zip"}})
				}
				serveManifest(w, m)
				return true
			}},
		{name: "blob larger than one package", want: "more than the 1000 accepted (one package)",
			src: mirror.OCISource{MaxBlobSize: 1000}},
		{name: "blob larger than declared, with its length", want: fmt.Sprintf("alpha-1.1.0.zip: blob of %d bytes, the manifest declares %d", zipSize+int64(len("trailing bytes")), zipSize),
			hook: func(w http.ResponseWriter, r *http.Request, inner http.Handler) bool {
				if !isBlob(r, zipDigest) {
					return false
				}
				rec := httptest.NewRecorder()
				inner.ServeHTTP(rec, r)
				w.Write(append(rec.Body.Bytes(), "trailing bytes"...))
				return true
			}},
		{name: "blob larger than declared, streamed", want: fmt.Sprintf("alpha-1.1.0.zip: blob larger than the %d bytes the manifest declares", zipSize),
			hook: func(w http.ResponseWriter, r *http.Request, inner http.Handler) bool {
				if !isBlob(r, zipDigest) {
					return false
				}
				rec := httptest.NewRecorder()
				inner.ServeHTTP(rec, r)
				w.Write(rec.Body.Bytes())
				w.(http.Flusher).Flush() // no Content-Length: chunked
				w.Write([]byte("trailing bytes"))
				return true
			}},
		{name: "endless blob", want: "alpha-1.1.0.zip: blob larger than the",
			hook: func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
				if !isBlob(r, zipDigest) {
					return false
				}
				endless(w)
				return true
			}},
		{name: "tampered zip blob", want: "alpha-1.1.0.zip: altered: its bytes have digest sha256:",
			hook: func(w http.ResponseWriter, r *http.Request, inner http.Handler) bool {
				if !isBlob(r, zipDigest) {
					return false
				}
				rec := httptest.NewRecorder()
				inner.ServeHTTP(rec, r)
				b := rec.Body.Bytes()
				b[len(b)/2] ^= 1
				w.Write(b)
				return true
			}},
		{name: "layer digest not the manifest's", want: "alpha-1.1.0.zip: layer sha256:",
			hook: func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
				if !isManifest(r) {
					return false
				}
				m := man
				m.Layers = append([]v1.Descriptor(nil), man.Layers...)
				for i, l := range m.Layers {
					if l.Digest.String() == zipDigest {
						m.Layers[i].Digest = layer("alpha-1.0.0.zip").Digest
						m.Layers[i].Size = layer("alpha-1.0.0.zip").Size
					}
				}
				serveManifest(w, m)
				return true
			}},
		{name: "extra layer", want: "evil.zip: extra layer, not in manifest.json",
			hook: func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
				if !isManifest(r) {
					return false
				}
				m := man
				extra := layer("alpha-1.0.0.zip")
				extra.Annotations = map[string]string{"org.opencontainers.image.title": "evil.zip"}
				m.Layers = append(append([]v1.Descriptor(nil), man.Layers...), extra)
				serveManifest(w, m)
				return true
			}},
		{name: "not a pkgstore bundle", want: "not a pkgstore bundle",
			hook: func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
				if !isManifest(r) {
					return false
				}
				m := man
				m.ArtifactType = ""
				serveManifest(w, m)
				return true
			}},
		{name: "manifest signed by another key", want: "manifest.json.sig: ", ref: pushForged},
		{name: "no such tag", want: "no such tag", ref: func(*testing.T) string { return reg.ref("site/packages:nope") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := ref
			if c.ref != nil {
				r = c.ref(t)
			}
			reg.setHook(c.hook)
			defer reg.setHook(nil)
			site := servertest.Start(t, servertest.Options{Key: key})
			done := make(chan struct{})
			var err error
			go func() {
				defer close(done)
				_, err = importOCI(r, site, key, op, c.src)
			}()
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("import still running after 60 s")
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("import: %v\nwant an error containing %q", err, c.want)
			}
			if c.name != "no such tag" && !errors.Is(err, mirror.ErrBundle) {
				t.Errorf("%v is not a refused bundle", err)
			}
			noneOf(t, site, "alpha-1.0.0", "alpha-1.1.0")
		})
	}
}

// v1Subset copies a few revisions of production's v1 sample (two versions
// of three packages, one of a fourth) into a new v1 checkout.
func v1Subset(t testing.TB) (string, []string) {
	t.Helper()
	src := sharedtest.UnpackV1(t)
	dst := t.TempDir()
	ids := []string{"winlog/1.6.0", "winlog/1.7.0", "httpjson/1.4.2", "httpjson/1.5.0", "fleet_server/1.1.1", "fleet_server/1.2.0", "log/1.0.0"}
	for _, id := range ids {
		if err := os.CopyFS(filepath.Join(dst, "packages", id), os.DirFS(filepath.Join(src, "packages", id))); err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range ids {
		ids[i] = strings.Replace(id, "/", "-", 1)
	}
	return dst, ids
}

// TestOCIV1Sample: real revisions (production's v1 sample, migrated into
// an upstream store) go through an OCI registry into an empty store
// byte-identical, zips and signatures; the grown second push uploads only
// the new revisions' blobs.
func TestOCIV1Sample(t *testing.T) {
	src, ids := v1Subset(t)
	up := servertest.Start(t, servertest.Options{})
	sum, err := syncv1.Run(context.Background(), syncv1.Config{Source: src, Client: up.Client, Key: up.Key.Signer, Workers: 2})
	if err != nil || !sum.OK() || sum.Published != len(ids) {
		t.Fatalf("sync-v1 into the upstream: %v %+v", err, sum)
	}
	for _, id := range ids {
		i := strings.LastIndex(id, "-")
		up.WaitVisible(t, id[:i], id[i+1:])
	}
	op := sigtest.NewKey(t, "operator")
	reg := startRegistry(t)
	latest := pushOCI(t, up, up.Key, op, mirror.Filters{}, reg.ref("site/v1:latest"))
	if latest.Selected != 4 || latest.OCIBlobsUploaded != 3+4*2 {
		t.Fatalf("latest: %d selected, %d blobs uploaded; want 4, 11", latest.Selected, latest.OCIBlobsUploaded)
	}
	before, _, _ := reg.counts()
	all := pushOCI(t, up, up.Key, op, mirror.Filters{AllVersions: true}, reg.ref("site/v1:all"))
	after, _, _ := reg.counts()
	if all.Selected != len(ids) || all.OCIBlobsUploaded != 2+3*2 || after-before != 2+3*2 {
		t.Errorf("grown push: %d selected, %d blobs uploaded (registry saw %d); want %d, 8 (3 new revisions × 2, manifest.json and its signature)", all.Selected, all.OCIBlobsUploaded, after-before, len(ids))
	}

	t.Logf("push of %d revisions (%d zip bytes): %d blobs uploaded; grown push of %d: %d uploaded, %d already there, %s", latest.Selected, latest.BundleZipBytes, latest.OCIBlobsUploaded, all.Selected, all.OCIBlobsUploaded, all.OCIBlobsPresent, all.Elapsed)
	site := servertest.Start(t, servertest.Options{Key: up.Key})
	_, _, getsBefore := reg.counts()
	isum, err := importOCI(reg.ref("site/v1:all"), site, up.Key, op, mirror.OCISource{})
	if err != nil || !isum.OK() || isum.Transferred != len(ids) {
		t.Fatalf("import: %v %+v", err, isum)
	}
	_, _, gets := reg.counts()
	if gets-getsBefore != 2+2*len(ids) {
		t.Errorf("import downloaded %d blobs, want %d (manifest.json, its signature, each revision's two)", gets-getsBefore, 2+2*len(ids))
	}
	t.Logf("import into an empty store: %d revisions, %d blobs downloaded, %s", isum.Transferred, gets-getsBefore, isum.Elapsed)
	for _, id := range ids {
		i := strings.LastIndex(id, "-")
		site.WaitVisible(t, id[:i], id[i+1:])
		for _, sig := range []bool{false, true} {
			if !bytes.Equal(storeFile(t, site, id, sig), storeFile(t, up, id, sig)) {
				t.Errorf("%s (signature %v): the site's bytes differ from the upstream's", id, sig)
			}
		}
	}
	for _, q := range []string{"?all=true", "", "?package=winlog&all=true", "?kibana.version=8.0.0"} {
		_, want := get(t, up.URL+"/search"+q)
		if _, got := get(t, site.URL+"/search"+q); !bytes.Equal(got, want) {
			t.Errorf("/search%s differs:\nsite     %.300s\nupstream %.300s", q, got, want)
		}
	}
}

// TestOCIPlainHTTPOnlyWhenAsked: without --plain-http nothing goes to a
// registry in clear, not even to loopback, where go-containerregistry
// would use HTTP by itself.
func TestOCIPlainHTTPOnlyWhenAsked(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	up, _ := storeUpstream(t, key, catalog[:1])
	reg := startRegistry(t)
	var seen int
	var mu sync.Mutex
	reg.setHook(func(http.ResponseWriter, *http.Request, http.Handler) bool {
		mu.Lock()
		seen++
		mu.Unlock()
		return false
	})
	ref := reg.ref("site/packages:v1")
	_, err := mirror.Run(context.Background(), mirror.Config{From: up.URL, Filters: mirror.Filters{AllVersions: true}, Keyring: key.Keyring, OCI: &mirror.OCITarget{Ref: ref}, Retry: fastRetry})
	if err == nil || !strings.Contains(err.Error(), "HTTP response to HTTPS client") {
		t.Errorf("push without --plain-http: %v", err)
	}
	site := servertest.Start(t, servertest.Options{Key: key})
	_, err = mirror.Import(context.Background(), mirror.ImportConfig{Bundle: ref, To: site.Client, Retry: fastRetry})
	if err == nil || !strings.Contains(err.Error(), "HTTP response to HTTPS client") {
		t.Errorf("pull without --plain-http: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen != 0 {
		t.Errorf("the registry answered %d plain HTTP requests", seen)
	}
}

// TestOCIEndlessPing: a registry whose GET /v2/ never ends (which
// go-containerregistry's ping would drain forever) costs a bounded read.
func TestOCIEndlessPing(t *testing.T) {
	key := sigtest.NewKey(t, "upstream")
	op := sigtest.NewKey(t, "operator")
	up, _ := storeUpstream(t, key, catalog[:1])
	reg := startRegistry(t)
	ref := reg.ref("site/packages:v1")
	pushOCI(t, up, key, op, mirror.Filters{AllVersions: true}, ref)
	reg.setHook(func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
		if r.URL.Path != "/v2/" {
			return false
		}
		chunk := bytes.Repeat([]byte("A"), 64<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				return true
			}
		}
	})
	site := servertest.Start(t, servertest.Options{Key: key})
	done := make(chan struct{})
	var (
		sum *mirror.Summary
		err error
	)
	go func() {
		defer close(done)
		sum, err = importOCI(ref, site, key, op, mirror.OCISource{})
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("import still running after 60 s: the ping is drained without end")
	}
	if err != nil || sum.Transferred != 1 {
		t.Fatalf("import: %v %+v", err, sum)
	}
}
