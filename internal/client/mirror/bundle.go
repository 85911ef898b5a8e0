package mirror

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/signature"
)

// A bundle is one uncompressed tar (zips do not compress further):
//
//	manifest.json                     first, always
//	manifest.json.sig                 second, when signed (--sign-key)
//	packages/NAME-VERSION.zip.sig     then, for each revision in manifest
//	packages/NAME-VERSION.zip         order, its signature and its zip
const (
	ManifestName    = "manifest.json"
	ManifestSigName = "manifest.json.sig"
	// ManifestFormat is the version of the manifest's shape.
	ManifestFormat = 1
	// maxManifestSize bounds what is read of a bundle's manifest.
	maxManifestSize = 64 << 20
)

// Manifest describes a bundle.
type Manifest struct {
	Format    int       `json:"format"`
	Source    string    `json:"source"`     // the upstream's base URL
	SearchURL string    `json:"search_url"` // the /search query that selected
	Created   time.Time `json:"created"`
	Selection Filters   `json:"selection"`
	Packages  []Entry   `json:"packages"`
	// Follows is set in an incremental bundle (mirror --since): it holds
	// only the revisions its predecessors lack.
	Follows *Follows `json:"follows,omitempty"`
}

// Entry is one revision of a bundle.
type Entry struct {
	Name            string `json:"name"`
	Version         string `json:"version"`
	Zip             string `json:"zip"` // path in the bundle
	Size            int64  `json:"size"`
	SHA256          string `json:"sha256"`
	Signature       string `json:"signature"` // path in the bundle
	SignatureSize   int64  `json:"signature_size"`
	SignatureSHA256 string `json:"signature_sha256"`
	Signer          string `json:"signer,omitempty"` // fingerprint of the signing key
}

// ID of the entry.
func (e Entry) ID() packageid.ID { return packageid.ID{Name: e.Name, Version: e.Version} }

var sha256Re = regexp.MustCompile(`^[0-9a-f]{64}$`)

// check validates an entry read from an untrusted bundle.
func (e Entry) check() error {
	id := e.ID()
	if err := id.Validate(); err != nil {
		return fmt.Errorf("manifest entry %q %q: %w", e.Name, e.Version, err)
	}
	if want := "packages/" + id.ZipName(); e.Zip != want || e.Signature != want+".sig" {
		return fmt.Errorf("manifest entry %s: files %q and %q, want %q and %q", id, e.Zip, e.Signature, want, want+".sig")
	}
	if !sha256Re.MatchString(e.SHA256) || !sha256Re.MatchString(e.SignatureSHA256) {
		return fmt.Errorf("manifest entry %s: sha256 is not 64 lower-case hex digits", id)
	}
	if e.Size <= 0 || e.SignatureSize <= 0 || e.SignatureSize > signature.MaxSignatureSize {
		return fmt.Errorf("manifest entry %s: sizes %d and %d out of range", id, e.Size, e.SignatureSize)
	}
	return nil
}

func sortEntries(es []Entry) {
	slices.SortFunc(es, func(a, b Entry) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return packageid.Compare(a.Version, b.Version)
	})
}

// BundleError is a refused bundle: every problem found, each naming the
// file it concerns.
type BundleError struct {
	Bundle   string
	Problems []string
	// Cause, when set, is a sentinel callers may match (ErrChain).
	Cause error
}

// Unwrap returns the cause.
func (e *BundleError) Unwrap() error { return e.Cause }

func (e *BundleError) Error() string {
	return fmt.Sprintf("bundle %s refused, nothing published:\n  %s", e.Bundle, strings.Join(e.Problems, "\n  "))
}

// ErrBundle is matched by every *BundleError.
var ErrBundle = errors.New("bundle refused")

// Is makes errors.Is(err, ErrBundle) true.
func (e *BundleError) Is(target error) bool { return target == ErrBundle }

// ReadManifest reads a bundle's manifest (and its signature, nil when
// unsigned) without reading the rest.
func ReadManifest(path string) (*Manifest, []byte, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	m, raw, sig, _, err := readHead(tr, path)
	return m, raw, sig, err
}

// readHead reads manifest.json and manifest.json.sig; next is the tar
// header that follows them (nil at the end).
func readHead(tr *tar.Reader, path string) (m *Manifest, raw, sig []byte, next *tar.Header, err error) {
	refuse := func(format string, args ...any) error {
		return &BundleError{Bundle: path, Problems: []string{fmt.Sprintf(format, args...)}}
	}
	h, err := tr.Next()
	if err != nil {
		return nil, nil, nil, nil, refuse("%s: not a bundle (a tar starting with %s): %v", filepath.Base(path), ManifestName, err)
	}
	if h.Name != ManifestName || h.Typeflag != tar.TypeReg {
		return nil, nil, nil, nil, refuse("%s: first file is %q, want %s", filepath.Base(path), h.Name, ManifestName)
	}
	raw, err = io.ReadAll(io.LimitReader(tr, maxManifestSize+1))
	if err != nil || len(raw) > maxManifestSize {
		return nil, nil, nil, nil, refuse("%s: unreadable or larger than %d bytes (%v)", ManifestName, maxManifestSize, err)
	}
	if m, err = parseManifest(raw); err != nil {
		return nil, nil, nil, nil, refuse("%v", err)
	}
	next, err = tr.Next()
	if err == io.EOF {
		return m, raw, nil, nil, nil
	}
	if err != nil {
		return nil, nil, nil, nil, refuse("%s: %v", filepath.Base(path), err)
	}
	if next.Name == ManifestSigName {
		sig, err = io.ReadAll(io.LimitReader(tr, signature.MaxSignatureSize+1))
		if err != nil || len(sig) > signature.MaxSignatureSize {
			return nil, nil, nil, nil, refuse("%s: unreadable or too large (%v)", ManifestSigName, err)
		}
		next, err = tr.Next()
		if err == io.EOF {
			next, err = nil, nil
		}
		if err != nil {
			return nil, nil, nil, nil, refuse("%s: %v", filepath.Base(path), err)
		}
	}
	return m, raw, sig, next, nil
}

// parseManifest decodes an untrusted manifest.json (at most
// maxManifestSize bytes, checked by the caller).
func parseManifest(raw []byte) (*Manifest, error) {
	m := &Manifest{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(m); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestName, err)
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("%s: format %d, this pkgstore reads format %d", ManifestName, m.Format, ManifestFormat)
	}
	if err := m.Follows.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestName, err)
	}
	return m, nil
}

// Keys are the two trust roles of an import: who may vouch for a bundle
// and who may sign packages. They are separate keyrings because an
// operator key (mirror --sign-key) and a publisher's key are different
// roles: a package key must not be able to vouch for a whole bundle.
type Keys struct {
	// Bundle verifies manifest.json.sig (then required): the public
	// key(s) of mirror --sign-key (import --bundle-keyring).
	Bundle *signature.Keyring
	// Packages verifies every package's signature (import --keyring).
	Packages *signature.Keyring
}

// Unpack checks a bundle completely and writes its files into dir
// (packages/NAME-VERSION.zip and .sig, named from the manifest, never from
// the tar): the manifest's signature against keys.Bundle when it is given
// (the signature is then required), every file's size and sha256, no file
// missing, extra or repeated, and, when keys.Packages is given, every
// package's signature and zip. Every problem is collected into one
// *BundleError.
func Unpack(ctx context.Context, path, dir string, keys Keys) (*Manifest, error) {
	m, _, err := unpack(ctx, path, dir, keys)
	return m, err
}

// unpack is Unpack, also returning the manifest's bytes.
func unpack(ctx context.Context, path, dir string, keys Keys) (*Manifest, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	m, raw, msig, h, err := readHead(tr, path)
	if err != nil {
		return nil, nil, err
	}
	var problems []string
	if err := verifyManifestSig(path, raw, msig, keys.Bundle); err != nil {
		return nil, nil, err
	}
	type want struct {
		size int64
		sum  string
		seen bool
	}
	files := map[string]*want{}
	for _, e := range m.Packages {
		if err := e.check(); err != nil {
			problems = append(problems, ManifestName+": "+err.Error())
			continue
		}
		if files[e.Zip] != nil {
			problems = append(problems, fmt.Sprintf("%s: %s listed twice", ManifestName, e.ID()))
			continue
		}
		files[e.Zip] = &want{size: e.Size, sum: e.SHA256}
		files[e.Signature] = &want{size: e.SignatureSize, sum: e.SignatureSHA256}
	}
	if len(problems) > 0 {
		return nil, nil, &BundleError{Bundle: path, Problems: problems}
	}
	if err := os.MkdirAll(filepath.Join(dir, "packages"), 0o755); err != nil {
		return nil, nil, err
	}
	for ; h != nil; h, err = tr.Next() {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		w := files[h.Name]
		switch {
		case w == nil:
			problems = append(problems, fmt.Sprintf("%s: extra file, not in %s", h.Name, ManifestName))
			continue
		case w.seen:
			problems = append(problems, fmt.Sprintf("%s: appears twice", h.Name))
			continue
		case h.Typeflag != tar.TypeReg:
			problems = append(problems, fmt.Sprintf("%s: not a regular file", h.Name))
			continue
		}
		w.seen = true
		out, err := os.Create(filepath.Join(dir, h.Name))
		if err != nil {
			return nil, nil, err
		}
		sum := sha256.New()
		n, err := io.Copy(io.MultiWriter(out, sum), io.LimitReader(tr, w.size+1))
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: unreadable: %v", h.Name, err))
			continue
		}
		if got := hex.EncodeToString(sum.Sum(nil)); n != w.size || got != w.sum {
			problems = append(problems, fmt.Sprintf("%s: altered: %d bytes with sha256 %s, the manifest says %d bytes with sha256 %s", h.Name, n, got, w.size, w.sum))
		}
	}
	if err != nil && err != io.EOF {
		problems = append(problems, fmt.Sprintf("%s: damaged tar: %v", filepath.Base(path), err))
	}
	var missing []string
	for name, w := range files {
		if !w.seen {
			missing = append(missing, name+": missing from the bundle")
		}
	}
	slices.Sort(missing)
	problems = append(problems, missing...)
	if kr := keys.Packages; len(problems) == 0 && kr != nil {
		for _, e := range m.Packages {
			if err := verifyUnpacked(dir, e, kr); err != nil {
				problems = append(problems, err.Error())
			}
		}
	}
	if len(problems) > 0 {
		return nil, nil, &BundleError{Bundle: path, Problems: problems}
	}
	return m, raw, nil
}

// verifyManifestSig checks manifest.json's signature against kr (the
// operators' keys) when kr is given; the signature is then required.
func verifyManifestSig(bundle string, raw, msig []byte, kr *signature.Keyring) error {
	if kr == nil {
		return nil
	}
	if msig == nil {
		return &BundleError{Bundle: bundle, Problems: []string{ManifestSigName + ": missing: the bundle is not signed (made without --sign-key); import it without --bundle-keyring and --keyring to rely on the store's signature checks alone"}}
	}
	if _, err := kr.Verify(bytes.NewReader(raw), bytes.NewReader(msig)); err != nil {
		return &BundleError{Bundle: bundle, Problems: []string{ManifestSigName + ": " + err.Error() + " (--bundle-keyring: the keys of the operators who sign bundles with mirror --sign-key)"}}
	}
	return nil
}

func verifyUnpacked(dir string, e Entry, kr *signature.Keyring) error {
	sig, err := os.ReadFile(filepath.Join(dir, e.Signature))
	if err != nil {
		return err
	}
	f, err := os.Open(filepath.Join(dir, e.Zip))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := Verify(f, e.Size, e.ID().ZipName(), sig, kr, nil); err != nil {
		return fmt.Errorf("%s: %w", e.Zip, err)
	}
	return nil
}

// damagedError is a work-folder file that no longer matches what was
// downloaded and verified.
type damagedError struct {
	id   packageid.ID
	file string
}

func (e *damagedError) Error() string {
	return fmt.Sprintf("%s changed in the work folder since it was verified", e.file)
}

// writeBundle writes manifest, its signature (when key is not nil) and
// every entry's files from dir into path, through a temporary file renamed
// at the end: a bundle is either whole or absent.
func writeBundle(path string, m *Manifest, dir string, key *signature.SigningKey) (err error) {
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	raw = append(raw, '\n')
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	tw := tar.NewWriter(tmp)
	add := func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: m.Created.Truncate(time.Second)}); err != nil {
			return err
		}
		n, err := io.Copy(tw, r)
		if err == nil && n != size {
			err = fmt.Errorf("%s changed while bundling: %d bytes, want %d", name, n, size)
		}
		return err
	}
	if err := add(ManifestName, int64(len(raw)), bytes.NewReader(raw)); err != nil {
		return err
	}
	if key != nil {
		var sig bytes.Buffer
		if err := key.Sign(&sig, bytes.NewReader(raw)); err != nil {
			return err
		}
		if err := add(ManifestSigName, int64(sig.Len()), &sig); err != nil {
			return err
		}
	}
	for _, e := range m.Packages {
		for _, file := range []struct {
			name string
			size int64
			sum  string
		}{{e.Signature, e.SignatureSize, e.SignatureSHA256}, {e.Zip, e.Size, e.SHA256}} {
			f, err := os.Open(filepath.Join(dir, file.name))
			if err != nil {
				return err
			}
			// The work folder may have been damaged since the download (a
			// crash of the machine): what goes in must match the manifest.
			h := sha256.New()
			err = add(file.name, file.size, io.TeeReader(f, h))
			f.Close()
			if err == nil && hex.EncodeToString(h.Sum(nil)) != file.sum {
				err = &damagedError{id: e.ID(), file: file.name}
			}
			if err != nil {
				return fmt.Errorf("bundle %s: %w", file.name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
