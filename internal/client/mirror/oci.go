package mirror

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/signature"
)

// A bundle as an OCI artifact (plain OCI image manifest, OCI 1.1
// artifact guidance):
//
//	artifactType  OCIArtifactType
//	config        the empty descriptor ({})
//	layers        manifest.json, manifest.json.sig (when signed), then per
//	              revision NAME-VERSION.zip.sig and NAME-VERSION.zip
//
// each layer named by its org.opencontainers.image.title annotation. A
// revision's zip and signature are blobs of their own, so a registry holds
// each once whatever the number of tags that list it, a push uploads only
// the blobs the registry lacks and a pull downloads only what the store
// lacks; no blob is larger than one package. manifest.json is exactly a
// tar bundle's, signed the same way: what import trusts is that file and
// its signature, never the OCI manifest, whose layer digests and sizes
// must match it.
const (
	OCIArtifactType   = "application/vnd.pkgstore.bundle.v1"
	OCIManifestType   = "application/vnd.pkgstore.bundle.manifest.v1+json"
	OCISignatureType  = "application/pgp-signature"
	OCIZipType        = "application/zip"
	ociEmptyType      = "application/vnd.oci.empty.v1+json"
	ociTitle          = "org.opencontainers.image.title"
	ociCreated        = "org.opencontainers.image.created"
	ociScheme         = "oci://"
	ociEmptyConfigRaw = "{}"
)

// Bounds of a pull from an untrusted registry.
const (
	// DefaultOCIMaxManifestSize bounds the OCI manifest read (about
	// 40,000 revisions' descriptors).
	DefaultOCIMaxManifestSize = 16 << 20
	// DefaultOCIMaxLayers bounds its layers: two per revision.
	DefaultOCIMaxLayers = 2*40_000 + 2
	// DefaultOCIBlobTimeout bounds the download of one blob.
	DefaultOCIBlobTimeout = DefaultRevisionTimeout
)

// IsOCI reports whether a bundle argument names an OCI artifact
// (oci://HOST[:PORT]/REPO:TAG or @sha256:DIGEST).
func IsOCI(s string) bool { return strings.HasPrefix(s, ociScheme) }

// ParseOCIRef parses oci://HOST[:PORT]/REPO:TAG (or REPO@sha256:...).
// plainHTTP talks HTTP instead of HTTPS (loopback registries).
func ParseOCIRef(s string, plainHTTP bool) (name.Reference, error) {
	if !IsOCI(s) {
		return nil, fmt.Errorf("%q: an OCI reference starts with %s", s, ociScheme)
	}
	rest := strings.TrimPrefix(s, ociScheme)
	if host, _, _ := strings.Cut(rest, "/"); !strings.ContainsAny(host, ".:") && host != "localhost" {
		// Without it go-containerregistry would read the host as a
		// Docker Hub namespace.
		return nil, fmt.Errorf("%q: want oci://HOST[:PORT]/REPO:TAG", s)
	}
	var opts []name.Option
	if plainHTTP {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.ParseReference(rest, append(opts, name.StrictValidation)...)
	if err != nil {
		return nil, fmt.Errorf("%q: %w (want oci://HOST[:PORT]/REPO:TAG)", s, err)
	}
	return ref, nil
}

// OCITarget is where mirror pushes a selection.
type OCITarget struct {
	// Ref is oci://HOST[:PORT]/REPO:TAG.
	Ref       string
	PlainHTTP bool
	// Keychain gives the credentials (default authn.DefaultKeychain: the
	// Docker config file, $DOCKER_CONFIG or ~/.docker/config.json).
	Keychain authn.Keychain
	// Transport talks to the registry (default remote.DefaultTransport).
	Transport http.RoundTripper
}

// OCISource is how import reads an OCI artifact; zero values are the
// defaults.
type OCISource struct {
	PlainHTTP bool
	Keychain  authn.Keychain
	Transport http.RoundTripper
	// MaxManifestSize, MaxLayers, MaxBlobSize (default DefaultMaxZipSize:
	// one package) and BlobTimeout bound what a registry may make import
	// read.
	MaxManifestSize int64
	MaxLayers       int
	MaxBlobSize     int64
	BlobTimeout     time.Duration
}

func keychainOr(k authn.Keychain) authn.Keychain {
	if k == nil {
		return authn.DefaultKeychain
	}
	return k
}

// transportOr is t (default remote.DefaultTransport), refusing plain HTTP
// unless plainHTTP: go-containerregistry talks HTTP by itself to
// localhost, loopback, link-local and RFC 1918 addresses, and credentials
// and packages must not travel in clear unless --plain-http says so.
func transportOr(t http.RoundTripper, plainHTTP bool) http.RoundTripper {
	if t == nil {
		t = remote.DefaultTransport
	}
	t = pingLimit{t}
	if plainHTTP {
		return t
	}
	return httpsOnly{t}
}

// maxPingBody bounds what is read of the answer to GET /v2/:
// go-containerregistry's ping drains it whole to reuse the connection.
const maxPingBody = 64 << 10

// pingLimit cuts the answer to GET /v2/ at maxPingBody.
type pingLimit struct{ next http.RoundTripper }

func (p pingLimit) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := p.next.RoundTrip(r)
	if err == nil && r.URL.Path == "/v2/" {
		resp.Body = limitedBody{io.LimitReader(resp.Body, maxPingBody), resp.Body}
	}
	return resp, err
}

type limitedBody struct {
	io.Reader
	io.Closer
}

// httpsOnly upgrades every request to HTTPS.
type httpsOnly struct{ next http.RoundTripper }

func (h httpsOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme == "http" {
		r = r.Clone(r.Context())
		r.URL.Scheme = "https"
	}
	return h.next.RoundTrip(r)
}

// registryClient is an HTTP client authenticated for repo with scope.
func registryClient(ctx context.Context, repo name.Repository, kc authn.Keychain, base http.RoundTripper, scope string) (*http.Client, error) {
	auth, err := kc.Resolve(repo)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", repo.RegistryStr(), err)
	}
	tr, err := transport.NewWithContext(ctx, repo.Registry, auth, base, []string{repo.Scope(scope)})
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", repo.RegistryStr(), err)
	}
	return &http.Client{Transport: tr}, nil
}

func blobURL(repo name.Repository, d string) string {
	return fmt.Sprintf("%s://%s/v2/%s/blobs/%s", repo.Scheme(), repo.RegistryStr(), repo.RepositoryStr(), d)
}

// ociBlob is one layer to push, from memory or from the work folder.
type ociBlob struct {
	title string
	mt    types.MediaType
	size  int64
	hash  v1.Hash
	path  string // the file, or
	data  []byte // its bytes
}

func (b ociBlob) layer() v1.Layer {
	if b.data != nil {
		return static.NewLayer(b.data, b.mt)
	}
	return fileLayer{b}
}

// fileLayer is a blob read from a file, uploaded as it is.
type fileLayer struct{ b ociBlob }

func (l fileLayer) Digest() (v1.Hash, error)             { return l.b.hash, nil }
func (l fileLayer) DiffID() (v1.Hash, error)             { return l.b.hash, nil }
func (l fileLayer) Compressed() (io.ReadCloser, error)   { return os.Open(l.b.path) }
func (l fileLayer) Uncompressed() (io.ReadCloser, error) { return os.Open(l.b.path) }
func (l fileLayer) Size() (int64, error)                 { return l.b.size, nil }
func (l fileLayer) MediaType() (types.MediaType, error)  { return l.b.mt, nil }

func memBlob(title string, mt types.MediaType, data []byte) ociBlob {
	s := sha256.Sum256(data)
	return ociBlob{title: title, mt: mt, size: int64(len(data)), hash: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}, data: data}
}

func sha(hexSum string) v1.Hash { return v1.Hash{Algorithm: "sha256", Hex: hexSum} }

// rawManifest is a manifest pushed as it is.
type rawManifest struct{ raw []byte }

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// finishOCI pushes the work folder's revisions and their manifest: each
// blob the registry lacks (asked with HEAD first), then the OCI manifest
// under the tag.
func (r *run) finishOCI(ctx context.Context, revs []Revision, sum *Summary) error {
	t := r.cfg.OCI
	ref, err := ParseOCIRef(t.Ref, t.PlainHTTP)
	if err != nil {
		return err
	}
	m, err := r.manifest(revs, sum)
	if err != nil {
		return err
	}
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	raw = append(raw, '\n')
	blobs := []ociBlob{memBlob(ManifestName, OCIManifestType, raw)}
	if r.cfg.SignKey != nil {
		var sig bytes.Buffer
		if err := r.cfg.SignKey.Sign(&sig, bytes.NewReader(raw)); err != nil {
			return err
		}
		blobs = append(blobs, memBlob(ManifestSigName, OCISignatureType, sig.Bytes()))
	}
	for _, e := range m.Packages {
		zipName := e.ID().ZipName()
		blobs = append(blobs,
			ociBlob{title: zipName + ".sig", mt: OCISignatureType, size: e.SignatureSize, hash: sha(e.SignatureSHA256), path: filepath.Join(r.work, e.Signature)},
			ociBlob{title: zipName, mt: OCIZipType, size: e.Size, hash: sha(e.SHA256), path: filepath.Join(r.work, e.Zip)})
	}
	config := memBlob("", ociEmptyType, []byte(ociEmptyConfigRaw))

	kc, base := keychainOr(t.Keychain), transportOr(t.Transport, t.PlainHTTP)
	repo := ref.Context()
	hc, err := registryClient(ctx, repo, kc, base, transport.PushScope)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrFatal, err)
	}
	pusher, err := remote.NewPusher(remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithTransport(base), remote.WithJobs(r.cfg.Workers))
	if err != nil {
		return err
	}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, r.cfg.Workers)
	for _, b := range append([]ociBlob{config}, blobs...) {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			uploaded, err := r.pushBlob(ctx, hc, pusher, repo, b)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil && firstErr == nil:
				firstErr = fmt.Errorf("push %s: %w", orConfig(b.title, "config"), err)
			case err == nil && uploaded:
				sum.OCIBlobsUploaded++
			case err == nil:
				sum.OCIBlobsPresent++
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	man := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  OCIArtifactType,
		Config:        v1.Descriptor{MediaType: ociEmptyType, Size: config.size, Digest: config.hash},
		Annotations:   map[string]string{ociCreated: m.Created.Format(time.RFC3339)},
	}
	for _, b := range blobs {
		man.Layers = append(man.Layers, v1.Descriptor{MediaType: b.mt, Size: b.size, Digest: b.hash, Annotations: map[string]string{ociTitle: b.title}})
	}
	mraw, err := json.Marshal(man)
	if err != nil {
		return err
	}
	if err := pusher.Put(ctx, ref, rawManifest{mraw}); err != nil {
		return fmt.Errorf("push manifest %s: %w", ref, err)
	}
	return nil
}

func hasTitle(layers map[string]v1.Descriptor, title string) bool {
	_, ok := layers[title]
	return ok
}

func orConfig(a, b string) string {
	if a == "" {
		return b
	}
	return a
}

// pushBlob uploads a blob unless the registry has it (HEAD), and reports
// whether it uploaded.
func (r *run) pushBlob(ctx context.Context, hc *http.Client, p *remote.Pusher, repo name.Repository, b ociBlob) (bool, error) {
	var have bool
	err := r.cfg.Retry.Do(ctx, func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, blobURL(repo, b.hash.String()), nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			have = resp.ContentLength < 0 || resp.ContentLength == b.size
			return nil
		case http.StatusNotFound:
			return nil
		}
		return fmt.Errorf("HEAD %s: %s", b.hash, resp.Status)
	})
	if err != nil || have {
		return false, err
	}
	if b.path != "" {
		// What goes out must be what was verified (see damagedError).
		if err := checkFile(b.path, b.size, b.hash.Hex); err != nil {
			return false, err
		}
	}
	return true, p.Upload(ctx, repo, b.layer())
}

func checkFile(path string, size int64, sum string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if n != size || hex.EncodeToString(h.Sum(nil)) != sum {
		return fmt.Errorf("%s changed in the work folder since it was verified", filepath.Base(path))
	}
	return nil
}

// ErrOCI is matched by the refusals of a registry's answers (too large,
// not what the manifest says, not a pkgstore bundle).
var ErrOCI = errors.New("OCI artifact refused")

// puller reads one artifact's manifest and blobs, within bounds.
type puller struct {
	ref  name.Reference
	hc   *http.Client
	src  OCISource
	name string // what errors call it
}

func (p *puller) refuse(format string, args ...any) error {
	return &BundleError{Bundle: p.name, Problems: []string{fmt.Sprintf(format, args...)}, Cause: ErrOCI}
}

// manifest reads and checks the OCI manifest.
func (p *puller) manifest(ctx context.Context) (*v1.Manifest, error) {
	ctx, cancel := context.WithTimeout(ctx, p.src.BlobTimeout)
	defer cancel()
	repo := p.ref.Context()
	u := fmt.Sprintf("%s://%s/v2/%s/manifests/%s", repo.Scheme(), repo.RegistryStr(), repo.RepositoryStr(), p.ref.Identifier())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", string(types.OCIManifestSchema1))
	resp, err := p.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.name, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%s: no such tag or digest in the registry (404)", p.name)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%s: GET manifest: %s", p.name, resp.Status)
	case resp.ContentLength > p.src.MaxManifestSize:
		return nil, p.refuse("OCI manifest of %d bytes, more than the %d accepted", resp.ContentLength, p.src.MaxManifestSize)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, p.src.MaxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: read manifest: %w", p.name, err)
	}
	if int64(len(raw)) > p.src.MaxManifestSize {
		return nil, p.refuse("OCI manifest larger than the %d bytes accepted", p.src.MaxManifestSize)
	}
	if d, ok := p.ref.(name.Digest); ok {
		s := sha256.Sum256(raw)
		if got := "sha256:" + hex.EncodeToString(s[:]); got != d.DigestStr() {
			return nil, p.refuse("OCI manifest has digest %s, the reference asks for %s", got, d.DigestStr())
		}
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, p.refuse("OCI manifest: %v", err)
	}
	if m.MediaType != types.OCIManifestSchema1 || m.ArtifactType != OCIArtifactType {
		return nil, p.refuse("not a pkgstore bundle: media type %q, artifact type %q (want %q, %q, as pushed by pkgstore mirror --to oci://)", m.MediaType, m.ArtifactType, types.OCIManifestSchema1, OCIArtifactType)
	}
	if len(m.Layers) > p.src.MaxLayers {
		return nil, p.refuse("OCI manifest lists %d layers, more than the %d accepted", len(m.Layers), p.src.MaxLayers)
	}
	return &m, nil
}

// blob downloads one blob into w: at most want.Size bytes, which must
// have want.Digest.
func (p *puller) blob(ctx context.Context, title string, want v1.Descriptor, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, p.src.BlobTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, blobURL(p.ref.Context(), want.Digest.String()), nil)
	if err != nil {
		return err
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", title, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: GET blob %s: %s", title, want.Digest, resp.Status)
	}
	if resp.ContentLength > want.Size {
		return fmt.Errorf("%s: blob of %d bytes, the manifest declares %d", title, resp.ContentLength, want.Size)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(resp.Body, want.Size+1))
	switch {
	case n > want.Size:
		return fmt.Errorf("%s: blob larger than the %d bytes the manifest declares", title, want.Size)
	case err != nil:
		return fmt.Errorf("%s: %w", title, err)
	case n < want.Size:
		return fmt.Errorf("%s: blob of %d bytes, the manifest declares %d", title, n, want.Size)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != want.Digest.String() {
		return fmt.Errorf("%s: altered: its bytes have digest %s, the manifest says %s", title, got, want.Digest)
	}
	return nil
}

// pullOCI reads an artifact pushed by mirror --to oci:// and checks it as
// Unpack checks a bundle (manifest signature, every entry, no blob missing
// or extra, every package's signature), except that it downloads only the
// revisions the store lacks, into dir; present are those it has.
func (r *run) pullOCI(ctx context.Context, cfg ImportConfig, dir string) (m *Manifest, raw []byte, present map[packageid.ID]bool, err error) {
	src := cfg.OCI
	if src.MaxManifestSize <= 0 {
		src.MaxManifestSize = DefaultOCIMaxManifestSize
	}
	if src.MaxLayers <= 0 {
		src.MaxLayers = DefaultOCIMaxLayers
	}
	if src.MaxBlobSize <= 0 {
		src.MaxBlobSize = DefaultMaxZipSize
	}
	if src.BlobTimeout <= 0 {
		src.BlobTimeout = DefaultOCIBlobTimeout
	}
	ref, err := ParseOCIRef(cfg.Bundle, src.PlainHTTP)
	if err != nil {
		return nil, nil, nil, err
	}
	hc, err := registryClient(ctx, ref.Context(), keychainOr(src.Keychain), transportOr(src.Transport, src.PlainHTTP), transport.PullScope)
	if err != nil {
		return nil, nil, nil, err
	}
	p := &puller{ref: ref, hc: hc, src: src, name: cfg.Bundle}
	om, err := p.manifest(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	layers := map[string]v1.Descriptor{}
	for i, l := range om.Layers {
		title := l.Annotations[ociTitle]
		switch {
		case title == "":
			return nil, nil, nil, p.refuse("layer %d (%s) has no %s annotation", i, l.Digest, ociTitle)
		case hasTitle(layers, title):
			return nil, nil, nil, p.refuse("two layers are titled %q", title)
		case l.Digest.Algorithm != "sha256" || !sha256Re.MatchString(l.Digest.Hex):
			return nil, nil, nil, p.refuse("%s: digest %q is not sha256", title, l.Digest)
		case l.Size < 0 || l.Size > src.MaxBlobSize:
			return nil, nil, nil, p.refuse("%s: blob of %d bytes, more than the %d accepted (one package)", title, l.Size, src.MaxBlobSize)
		}
		layers[title] = l
	}

	// manifest.json and its signature, the only things trusted.
	md, ok := layers[ManifestName]
	if !ok {
		return nil, nil, nil, p.refuse("no layer titled %s", ManifestName)
	}
	if md.Size > maxManifestSize {
		return nil, nil, nil, p.refuse("%s: %d bytes, more than %d", ManifestName, md.Size, maxManifestSize)
	}
	var buf bytes.Buffer
	if err := p.blob(ctx, ManifestName, md, &buf); err != nil {
		return nil, nil, nil, p.refuse("%v", err)
	}
	raw = buf.Bytes()
	var msig []byte
	if sd, ok := layers[ManifestSigName]; ok {
		if sd.Size > signature.MaxSignatureSize {
			return nil, nil, nil, p.refuse("%s: %d bytes, more than %d", ManifestSigName, sd.Size, signature.MaxSignatureSize)
		}
		var sb bytes.Buffer
		if err := p.blob(ctx, ManifestSigName, sd, &sb); err != nil {
			return nil, nil, nil, p.refuse("%v", err)
		}
		msig = sb.Bytes()
	}
	if err := verifyManifestSig(cfg.Bundle, raw, msig, cfg.BundleKeyring); err != nil {
		return nil, nil, nil, err
	}
	if m, err = parseManifest(raw); err != nil {
		return nil, nil, nil, p.refuse("%v", err)
	}

	// Every entry's two blobs, exactly as manifest.json says; nothing else.
	var problems []string
	used := map[string]bool{ManifestName: true, ManifestSigName: true}
	seen := map[packageid.ID]bool{}
	for _, e := range m.Packages {
		if err := e.check(); err != nil {
			problems = append(problems, ManifestName+": "+err.Error())
			continue
		}
		if seen[e.ID()] {
			problems = append(problems, fmt.Sprintf("%s: %s listed twice", ManifestName, e.ID()))
			continue
		}
		seen[e.ID()] = true
		zn := e.ID().ZipName()
		for _, f := range []struct {
			title string
			size  int64
			sum   string
		}{{zn, e.Size, e.SHA256}, {zn + ".sig", e.SignatureSize, e.SignatureSHA256}} {
			used[f.title] = true
			l, ok := layers[f.title]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s: no layer with this title", f.title))
			case l.Digest.Hex != f.sum || l.Size != f.size:
				problems = append(problems, fmt.Sprintf("%s: layer %s of %d bytes, %s says sha256:%s of %d bytes", f.title, l.Digest, l.Size, ManifestName, f.sum, f.size))
			}
		}
	}
	var extra []string
	for title := range layers {
		if !used[title] {
			extra = append(extra, fmt.Sprintf("%s: extra layer, not in %s", title, ManifestName))
		}
	}
	slices.Sort(extra)
	if problems = append(problems, extra...); len(problems) > 0 {
		return nil, nil, nil, &BundleError{Bundle: cfg.Bundle, Problems: problems, Cause: ErrOCI}
	}
	if err := r.checkChain(ctx, cfg.Bundle, m, cfg.After, cfg.ChainWait); err != nil {
		return nil, nil, nil, err
	}

	// What the store lacks, downloaded and checked before anything is
	// published.
	present = map[packageid.ID]bool{}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	if err := os.MkdirAll(filepath.Join(dir, "packages"), 0o755); err != nil {
		return nil, nil, nil, err
	}
	sem := make(chan struct{}, r.cfg.Workers)
	for _, e := range m.Packages {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ok, err := r.present(ctx, Revision{Name: e.Name, Version: e.Version})
			if err != nil {
				mu.Lock()
				firstErr = cmpErr(firstErr, fmt.Errorf("already-published check %s: %w", e.ID(), err))
				mu.Unlock()
				return
			}
			if ok {
				mu.Lock()
				present[e.ID()] = true
				mu.Unlock()
				return
			}
			var errs []string
			zn := e.ID().ZipName()
			for _, f := range []struct{ title, path string }{{zn + ".sig", e.Signature}, {zn, e.Zip}} {
				if err := p.fetchFile(ctx, f.title, layers[f.title], filepath.Join(dir, f.path)); err != nil {
					errs = append(errs, err.Error())
				}
			}
			if len(errs) == 0 && cfg.Keyring != nil {
				if err := verifyUnpacked(dir, e, cfg.Keyring); err != nil {
					errs = append(errs, err.Error())
				}
			}
			mu.Lock()
			problems = append(problems, errs...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, nil, nil, firstErr
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, nil, nil, &BundleError{Bundle: cfg.Bundle, Problems: problems, Cause: ErrOCI}
	}
	return m, raw, present, nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func (p *puller) fetchFile(ctx context.Context, title string, d v1.Descriptor, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = p.blob(ctx, title, d, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
