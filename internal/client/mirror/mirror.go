package mirror

import (
	"archive/tar"
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
	"runtime"
	"strings"
	"sync"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/client"
	"pkgstore/internal/client/progress"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/signature"
)

// Outcomes of one revision, as the reporters know them.
const (
	Transferred = progress.Published  // published into the store
	Downloaded  = progress.Downloaded // written into the bundle
	Present     = progress.Present    // already in the store or bundle: nothing transferred
	Failed      = progress.Failed
)

// Config of a mirror run. Exactly one of To and Bundle is set.
type Config struct {
	// From is the upstream registry's base URL.
	From    string
	Filters Filters
	// Keyring holds the keys the upstream signs with; nothing unsigned by
	// them is written anywhere.
	Keyring *signature.Keyring
	// CheckLogged, if set, must accept each revision downloaded (its
	// SHA-256) before it is written anywhere: the upstream's transparency
	// log proves it (mirror --log-key, logcheck).
	CheckLogged func(ctx context.Context, id packageid.ID, sha256 string) error
	// To is the target store's publishing client.
	To *client.Client
	// Bundle is the bundle file to write. Its work folder is Bundle +
	// ".partial" (see WorkDir).
	Bundle string
	// Since, with Bundle, makes an incremental bundle: the bundle (or
	// extracted manifest.json) it follows; revisions listed there or in
	// its predecessors are left out (see Follows).
	Since string
	// OCI, instead of To and Bundle, pushes the selection to an OCI
	// registry (see OCITarget).
	OCI *OCITarget
	// SignKey signs the bundle's manifest (optional).
	SignKey *signature.SigningKey
	// ResignKey, with To, re-signs each revision once its upstream
	// signature has verified against Keyring: the store receives the
	// zip signed by this key, with the upstream's signature as
	// provenance (client.Options.UpstreamSignature), so that a Kibana
	// holding this key alone verifies the mirrored packages. Refused with
	// Bundle or OCI (ErrResignTarget).
	ResignKey *signature.SigningKey
	// Workers is the number of revisions handled at once (default
	// GOMAXPROCS, at least 2).
	Workers int
	// Timeout bounds one attempt at one download (default 5 minutes).
	Timeout time.Duration
	// MaxZipSize bounds each revision's zip (default DefaultMaxZipSize,
	// the store's default upload limit); RevisionTimeout one revision in
	// all, retries included (default DefaultRevisionTimeout); MinRate the
	// slowest accepted transfer, in bytes a second over StallWindow
	// (defaults DefaultMinRate, DefaultStallWindow; negative: no cut).
	MaxZipSize      int64
	RevisionTimeout time.Duration
	MinRate         int64
	StallWindow     time.Duration
	// Retry of transient failures (zero: client.DefaultRetry).
	Retry client.Retry
	// HTTP talks to the upstream (default: a plain client).
	HTTP *http.Client
	// DryRun lists what would be mirrored, with sizes, and writes nothing.
	DryRun bool
	// TempDir holds downloads on their way to a store (default
	// os.TempDir()).
	TempDir string
	// Reporter hears about each revision.
	Reporter progress.Reporter
	// Now is the clock (tests).
	Now func() time.Time
	// Index, if set, checks the upstream's signed index (trust.go).
	Index *IndexCheck
}

// WorkDir is the folder beside a bundle where a run keeps what it has
// downloaded and verified until the bundle is written; an interrupted run
// continues from it.
func WorkDir(bundle string) string { return bundle + ".partial" }

// Planned is one selected revision of a dry run.
type Planned struct {
	Revision
	Present bool // already in the target: would not be transferred
}

// Summary of a run.
type Summary struct {
	SearchURL   string
	Selected    int
	Transferred int
	Present     int
	Failed      []progress.Result
	NotDone     int   // not handled because the run stopped
	Bytes       int64 // zip bytes downloaded and verified
	Elapsed     time.Duration
	Planned     []Planned // dry runs only
	// BundleSize is the written bundle's size and BundleZipBytes the sum of
	// its zips (bundle runs only).
	BundleSize     int64
	BundleZipBytes int64
	BundleUpToDate bool // the existing bundle already held the selection
	// ManifestSHA256 is the sha256 of the imported bundle's manifest.json
	// (imports only): ImportConfig.Previous of the next bundle of a chain.
	ManifestSHA256 string
	// OCIBlobsUploaded and OCIBlobsPresent count the blobs of a push to
	// an OCI registry uploaded and found already there (OCI runs only).
	OCIBlobsUploaded, OCIBlobsPresent int
	// chain is every revision an imported bundle holds or requires.
	chain map[packageid.ID]bool
}

// OK reports whether nothing failed.
func (s *Summary) OK() bool { return len(s.Failed) == 0 && s.NotDone == 0 }

// ErrFatal wraps failures that stop the run: every further revision would
// fail the same way (the upstream or the store unreachable, the token
// refused, the store not trusting the upstream's key).
var ErrFatal = errors.New("mirror stopped")

// ErrUntrustedByStore is the fatal failure of a store whose keyring lacks
// the upstream's key.
var ErrUntrustedByStore = errors.New("the target store does not trust the upstream's signing key")

type run struct {
	cfg   Config
	fetch *Fetcher
	work  string // bundle work folder
	old   map[packageid.ID]Entry
	// oldFollows is what the existing bundle follows.
	oldFollows *Follows
	// follows is recorded in an incremental bundle's manifest.
	follows *Follows
	// snapshot is the upstream's verified snapshot (Config.Index).
	snapshot map[packageid.ID]api.SnapshotRevision
}

// Run mirrors the selection. The error is non-nil when the run could not
// complete (ErrFatal, a cancelled ctx); single revisions' failures are in
// the summary.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	targets := 0
	for _, set := range []bool{cfg.To != nil, cfg.Bundle != "", cfg.OCI != nil} {
		if set {
			targets++
		}
	}
	if targets > 1 || targets == 0 && !cfg.DryRun {
		return nil, errors.New("mirror: exactly one of a target store, a bundle and an OCI registry (a dry run may have none)")
	}
	if cfg.Since != "" && cfg.Bundle == "" {
		return nil, errors.New("mirror: --since makes an incremental bundle: it needs a bundle")
	}
	if cfg.Keyring == nil || cfg.Keyring.Len() == 0 {
		return nil, errors.New("mirror: a keyring with the upstream's public key is required")
	}
	if cfg.ResignKey != nil && (cfg.Bundle != "" || cfg.OCI != nil) {
		return nil, ErrResignTarget
	}
	if err := cfg.Filters.Check(); err != nil {
		return nil, err
	}
	if cfg.Retry.Attempts == 0 {
		cfg.Retry = client.DefaultRetry
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Workers <= 0 {
		cfg.Workers = max(runtime.GOMAXPROCS(0), 2)
	}
	cfg.From = strings.TrimRight(cfg.From, "/")
	start := time.Now()
	r := &run{cfg: cfg, fetch: &Fetcher{Upstream: cfg.From, HTTP: cfg.HTTP, Keyring: cfg.Keyring, Retry: cfg.Retry, Timeout: cfg.Timeout,
		MaxSize: cfg.MaxZipSize, RevisionTimeout: cfg.RevisionTimeout, MinRate: cfg.MinRate, StallWindow: cfg.StallWindow, CheckLogged: cfg.CheckLogged}}
	revs, searchURL, err := Select(ctx, cfg.HTTP, cfg.From, cfg.Filters)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFatal, err)
	}
	if err := r.checkIndex(ctx); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFatal, err)
	}
	sum := &Summary{SearchURL: searchURL, Selected: len(revs)}
	defer func() { sum.Elapsed = time.Since(start) }()
	if cfg.Since != "" {
		fl, have, err := loadSince(cfg.Since)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrFatal, err)
		}
		r.follows = fl
		kept := revs[:0:0]
		for _, rev := range revs {
			if !have[rev.ID()] {
				kept = append(kept, rev)
			}
		}
		sum.Present += len(revs) - len(kept)
		revs = kept
	}

	var oldSigned bool
	if cfg.Bundle != "" {
		r.work = WorkDir(cfg.Bundle)
		m, _, sig, err := ReadManifest(cfg.Bundle)
		switch {
		case err == nil:
			r.old = map[packageid.ID]Entry{}
			for _, e := range m.Packages {
				// Its file names become paths in the work folder: a
				// bundle from elsewhere must not lead outside it.
				if err := e.check(); err != nil {
					return nil, fmt.Errorf("%w: existing bundle %s: %w", ErrFatal, cfg.Bundle, err)
				}
				r.old[e.ID()] = e
			}
			r.oldFollows = m.Follows
			oldSigned = sig != nil
		case errors.Is(err, os.ErrNotExist):
		default:
			return nil, fmt.Errorf("%w: existing bundle: %w", ErrFatal, err)
		}
	}

	if cfg.DryRun {
		return sum, r.dryRun(ctx, revs, sum)
	}
	if cfg.Bundle != "" && r.bundleUpToDate(revs, oldSigned) {
		sum.BundleUpToDate = true
		sum.Present += len(revs)
		if fi, err := os.Stat(cfg.Bundle); err == nil {
			sum.BundleSize = fi.Size()
		}
		for _, e := range r.old {
			sum.BundleZipBytes += e.Size
		}
		if cfg.Reporter != nil {
			cfg.Reporter.Start(len(revs))
			for _, rev := range revs {
				cfg.Reporter.Done(progress.Result{Dir: rev.ID().String(), ID: rev.ID(), Outcome: Present})
			}
			cfg.Reporter.Finish()
		}
		return sum, nil
	}
	if cfg.Bundle != "" {
		if err := os.MkdirAll(filepath.Join(r.work, "packages"), 0o755); err != nil {
			return sum, fmt.Errorf("%w: work folder: %w", ErrFatal, err)
		}
		// Downloads cut short by an interruption are worthless.
		if stale, _ := filepath.Glob(filepath.Join(r.work, ".download-*")); len(stale) > 0 {
			for _, p := range stale {
				os.Remove(p)
			}
		}
		if err := r.reuseOld(ctx, revs); err != nil {
			return sum, err
		}
	}
	if cfg.OCI != nil {
		// Not resumable as a bundle's work folder is: what is already in
		// the registry is not uploaded again, whatever happens here.
		dir, err := os.MkdirTemp(cfg.TempDir, "pkgstore-oci-*")
		if err != nil {
			return sum, fmt.Errorf("%w: work folder: %w", ErrFatal, err)
		}
		defer os.RemoveAll(dir)
		r.work = dir
		if err := os.MkdirAll(filepath.Join(dir, "packages"), 0o755); err != nil {
			return sum, fmt.Errorf("%w: work folder: %w", ErrFatal, err)
		}
	}
	err = r.each(ctx, revs, sum)
	if err != nil || !sum.OK() || cfg.Bundle == "" && cfg.OCI == nil {
		return sum, err
	}
	if cfg.OCI != nil {
		return sum, r.finishOCI(ctx, revs, sum)
	}
	return sum, r.finishBundle(revs, sum)
}

// bundleUpToDate: the existing bundle holds exactly the selection, signed
// as asked, and no run is half done.
func (r *run) bundleUpToDate(revs []Revision, oldSigned bool) bool {
	if r.old == nil || len(r.old) != len(revs) || oldSigned != (r.cfg.SignKey != nil) || !sameFollows(r.oldFollows, r.follows) {
		return false
	}
	if _, err := os.Stat(r.work); err == nil {
		return false
	}
	for _, rev := range revs {
		if _, ok := r.old[rev.ID()]; !ok {
			return false
		}
	}
	return true
}

func (r *run) recordPath(id packageid.ID) string {
	return filepath.Join(r.work, "packages", id.String()+".json")
}

// done returns the record of a revision already downloaded and verified
// into the work folder: the record is written last, so its presence
// means the files beside it are whole.
func (r *run) done(id packageid.ID) (*Entry, bool) {
	if r.work == "" {
		return nil, false
	}
	raw, err := os.ReadFile(r.recordPath(id))
	if err != nil {
		return nil, false
	}
	var e Entry
	if json.Unmarshal(raw, &e) != nil || e.ID() != id || e.check() != nil {
		return nil, false
	}
	return &e, true
}

func (r *run) writeRecord(e Entry) error {
	raw, err := json.Marshal(e)
	if err != nil {
		return err
	}
	p := r.recordPath(e.ID())
	if err := os.WriteFile(p+".tmp", raw, 0o644); err != nil {
		return err
	}
	return os.Rename(p+".tmp", p)
}

// present reports whether a revision need not be transferred.
func (r *run) present(ctx context.Context, rev Revision) (bool, error) {
	if r.cfg.To != nil {
		var ok bool
		err := r.cfg.Retry.Do(ctx, func() (err error) {
			ok, err = r.cfg.To.Published(ctx, rev.ID())
			return err
		})
		return ok, err
	}
	if _, ok := r.done(rev.ID()); ok {
		return true, nil
	}
	_, ok := r.old[rev.ID()]
	return ok, nil
}

func (r *run) dryRun(ctx context.Context, revs []Revision, sum *Summary) error {
	sum.Planned = make([]Planned, len(revs))
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, r.cfg.Workers)
	var wg sync.WaitGroup
	for i, rev := range revs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			p := Planned{Revision: rev}
			ok, err := r.present(ctx, rev)
			if err == nil && !ok {
				p.Size, err = r.fetch.Size(ctx, rev)
			}
			p.Present = ok
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = fmt.Errorf("%s: %w", rev.ID(), err)
			}
			sum.Planned[i] = p
			if ok {
				sum.Present++
			} else {
				sum.Transferred++
				sum.Bytes += max(p.Size, 0)
			}
		})
	}
	wg.Wait()
	return firstErr
}

// reuseOld copies the selected revisions an existing bundle already holds
// into the work folder (checking each file's sha256 and signature), so
// that growing a bundle downloads only what is new.
func (r *run) reuseOld(ctx context.Context, revs []Revision) error {
	want := map[string]Entry{}
	for _, rev := range revs {
		if e, ok := r.old[rev.ID()]; ok {
			if _, done := r.done(rev.ID()); !done {
				want[e.Zip], want[e.Signature] = e, e
			}
		}
	}
	if len(want) == 0 {
		return nil
	}
	f, err := os.Open(r.cfg.Bundle)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	_, _, _, h, err := readHead(tr, r.cfg.Bundle)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for ; h != nil && err == nil; h, err = tr.Next() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		e, ok := want[h.Name]
		if !ok {
			continue
		}
		size, wantSum := e.Size, e.SHA256
		if h.Name == e.Signature {
			size, wantSum = e.SignatureSize, e.SignatureSHA256
		}
		p := filepath.Join(r.work, h.Name)
		out, err := os.Create(p)
		if err != nil {
			return err
		}
		s := sha256.New()
		n, cerr := io.Copy(io.MultiWriter(out, s), io.LimitReader(tr, size+1))
		out.Close()
		if cerr != nil || n != size || hex.EncodeToString(s.Sum(nil)) != wantSum {
			os.Remove(p) // damaged: it is downloaded again
			continue
		}
		have[h.Name] = true
		if have[e.Zip] && have[e.Signature] {
			zf, err := os.Open(filepath.Join(r.work, e.Zip))
			if err != nil {
				return err
			}
			sig, _ := os.ReadFile(filepath.Join(r.work, e.Signature))
			verr := Verify(zf, e.Size, e.ID().ZipName(), sig, r.cfg.Keyring, &e.Signer)
			zf.Close()
			if verr == nil {
				if err := r.writeRecord(e); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// each mirrors every revision with the workers; each worker keeps one
// temporary download file.
func (r *run) each(ctx context.Context, revs []Revision, sum *Summary) error {
	tmps := make([]*os.File, r.cfg.Workers)
	defer func() {
		for _, t := range tmps {
			if t != nil {
				t.Close()
				os.Remove(t.Name())
			}
		}
	}()
	return r.eachWith(ctx, revs, sum, func(ctx context.Context, rev Revision, w int) (progress.Result, error) {
		return r.revision(ctx, rev, &tmps[w], w)
	})
}

// revision mirrors one revision; fatal is set when the run must stop.
func (r *run) revision(ctx context.Context, rev Revision, tmpp **os.File, worker int) (res progress.Result, fatal error) {
	id := rev.ID()
	res.Dir, res.ID = id.String(), id
	fail := func(err error) (progress.Result, error) {
		res.Outcome = Failed
		res.Reasons = append(res.Reasons, err.Error())
		return res, fatal
	}
	ok, err := r.present(ctx, rev)
	if err != nil {
		if client.Unreachable(err) {
			fatal = fmt.Errorf("%w: target store unreachable: %w", ErrFatal, err)
		}
		return fail(fmt.Errorf("already-published check: %w", err))
	}
	if ok {
		res.Outcome = Present
		return res, nil
	}
	if *tmpp == nil {
		dir := r.cfg.TempDir
		if r.work != "" {
			dir = r.work // same file system: the download is linked into place
		}
		if *tmpp, err = os.CreateTemp(dir, fmt.Sprintf(".download-%d-*.zip", worker)); err != nil {
			fatal = fmt.Errorf("%w: temporary file: %w", ErrFatal, err)
			return fail(err)
		}
	}
	tmp := *tmpp
	got, err := r.fetch.Fetch(ctx, rev, tmp)
	if err == nil {
		err = r.checkSnapshot(id, got)
	}
	if err != nil {
		switch {
		case client.Unreachable(err) && !errors.Is(err, ErrTruncated):
			fatal = fmt.Errorf("%w: upstream unreachable: %w", ErrFatal, err)
		case errors.Is(err, ErrTooLarge) && r.work != "":
			// A bundle must hold every selected revision: it cannot be
			// made, so the run stops rather than download the rest.
			fatal = fmt.Errorf("%w: bundle %s cannot be made: %w", ErrFatal, r.cfg.Bundle, err)
		}
		return fail(err)
	}
	res.Bytes, res.ZipSize = got.Size, got.Size
	if r.cfg.To != nil {
		return r.publish(ctx, id, tmp, got, res)
	}
	// Into the work folder: zip, signature, then the record that says both
	// are whole.
	e := Entry{
		Name: id.Name, Version: id.Version,
		Zip: "packages/" + id.ZipName(), Size: got.Size, SHA256: got.SHA256,
		Signature: "packages/" + id.ZipName() + ".sig", SignatureSize: int64(len(got.Signature)),
		Signer: got.Signer,
	}
	s := sha256.Sum256(got.Signature)
	e.SignatureSHA256 = hex.EncodeToString(s[:])
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := os.Link(tmp.Name(), filepath.Join(r.work, e.Zip)); err != nil {
		if !errors.Is(err, os.ErrExist) {
			return fail(fmt.Errorf("work folder: %w", err))
		}
		// Left by an interrupted run without its record: replace it.
		os.Remove(filepath.Join(r.work, e.Zip))
		if err := os.Link(tmp.Name(), filepath.Join(r.work, e.Zip)); err != nil {
			return fail(fmt.Errorf("work folder: %w", err))
		}
	}
	// The worker's temporary file is now the zip: a new one next time.
	tmp.Close()
	os.Remove(tmp.Name())
	*tmpp = nil
	if err := os.WriteFile(filepath.Join(r.work, e.Signature), got.Signature, 0o644); err != nil {
		return fail(err)
	}
	if err := r.writeRecord(e); err != nil {
		return fail(err)
	}
	res.Outcome = Downloaded // into the bundle: "published" would be untrue
	return res, nil
}

// publish hands the upstream's exact bytes to the store as a legacy
// package: signature and zip are checked there, package-spec is not (the
// revision is already published upstream, whatever spec it was built to).
func (r *run) publish(ctx context.Context, id packageid.ID, tmp *os.File, got *Fetched, res progress.Result) (progress.Result, error) {
	var sub *api.Submission
	var present bool
	sig, opts := got.Signature, client.Options{}
	if k := r.cfg.ResignKey; k != nil {
		// got.Signature verified against the upstream's keys (Fetch,
		// or the bundle's checks): it travels as provenance.
		resigned, err := resign(k, tmp, got.Size)
		if err != nil {
			res.Outcome, res.Reasons = Failed, []string{err.Error()}
			return res, fmt.Errorf("%w: %w", ErrFatal, err)
		}
		sig, opts.UpstreamSignature = resigned, got.Signature
	}
	err := r.cfg.Retry.Do(ctx, func() error {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		var err error
		sub, present, err = client.PublishLegacy(ctx, r.cfg.To, id.ZipName(), io.NewSectionReader(tmp, 0, got.Size), sig, opts)
		if refused := (*client.RefusedError)(nil); errors.As(err, &refused) {
			return nil // an outcome, not a failure to retry
		}
		return err
	})
	var fatal error
	if err != nil {
		var apiErr *client.APIError
		switch {
		case errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden):
			fatal = fmt.Errorf("%w: the store refused the token: %w", ErrFatal, err)
		case client.Unreachable(err):
			fatal = fmt.Errorf("%w: target store unreachable: %w", ErrFatal, err)
		}
		res.Outcome, res.Reasons = Failed, []string{"publish: " + err.Error()}
		return res, fatal
	}
	switch {
	case present:
		res.Outcome = Present
		return res, nil
	case sub.Status == api.StatusPublished:
		res.Outcome = Transferred
		return res, nil
	case sub.Status == api.StatusRejected:
		res.Outcome = Failed
		for _, reason := range sub.Reasons {
			if reason.Check == api.CheckSignature && strings.Contains(reason.Message, signature.ErrUnknownKey.Error()) {
				fatal = fmt.Errorf("%w: %w (key %s): add the upstream's public key to the store's keyring (serve --keyring FILE) and run again", ErrFatal, ErrUntrustedByStore, got.Signer)
				if k := r.cfg.ResignKey; k != nil {
					fatal = fmt.Errorf("%w: %w (the re-signing key %s): add its public key to the store's keyring (serve --keyring FILE) and run again", ErrFatal, ErrUntrustedByStore, k.Fingerprint())
				}
				res.Reasons = append(res.Reasons, fatal.Error())
			}
			res.Reasons = append(res.Reasons, reason.String())
		}
		if len(res.Reasons) == 0 {
			res.Reasons = []string{"rejected without a reason"}
		}
		return res, fatal
	}
	res.Outcome, res.Reasons = Failed, []string{fmt.Sprintf("publish: submission %s ended as %q", sub.ID, sub.Status)}
	return res, nil
}

// manifest of the revisions in the work folder.
func (r *run) manifest(revs []Revision, sum *Summary) (*Manifest, error) {
	m := &Manifest{
		Format:    ManifestFormat,
		Source:    r.cfg.From,
		SearchURL: sum.SearchURL,
		Created:   r.cfg.Now().UTC().Truncate(time.Second),
		Selection: r.cfg.Filters,
		Follows:   r.follows,
	}
	for _, rev := range revs {
		e, ok := r.done(rev.ID())
		if !ok {
			return nil, fmt.Errorf("%s: not in the work folder %s", rev.ID(), r.work)
		}
		m.Packages = append(m.Packages, *e)
		sum.BundleZipBytes += e.Size
	}
	sortEntries(m.Packages)
	return m, nil
}

// finishBundle writes the bundle from the work folder and removes it.
func (r *run) finishBundle(revs []Revision, sum *Summary) error {
	m, err := r.manifest(revs, sum)
	if err != nil {
		return err
	}
	if err := writeBundle(r.cfg.Bundle, m, r.work, r.cfg.SignKey); err != nil {
		var d *damagedError
		if errors.As(err, &d) {
			// Forget it: the next run downloads it again.
			os.Remove(r.recordPath(d.id))
			err = fmt.Errorf("%w; run again to download %s again", err, d.id)
		}
		return fmt.Errorf("write bundle %s: %w", r.cfg.Bundle, err)
	}
	fi, err := os.Stat(r.cfg.Bundle)
	if err != nil {
		return err
	}
	sum.BundleSize = fi.Size()
	return os.RemoveAll(r.work)
}
