package mirror

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"pkgstore/internal/client"
	"pkgstore/internal/client/progress"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/pkg/signature"
)

// ImportConfig says which bundle goes into which store.
type ImportConfig struct {
	Bundle string
	To     *client.Client
	// Keyring, when set, must verify every package's signature before
	// anything is published (the publishers' keys, as serve --keyring);
	// without it the store's own signature checks are the only ones.
	Keyring *signature.Keyring
	// BundleKeyring, when set, must verify the manifest's signature (the
	// operators' keys of mirror --sign-key). Keyring without
	// BundleKeyring is refused (ErrNoBundleKeyring): a package key does
	// not vouch for a bundle, and checking packages while silently not
	// checking who made the bundle would look like a full check.
	BundleKeyring *signature.Keyring
	// ResignKey, when set, re-signs each package with the site's key
	// once its upstream signature has verified against Keyring (needed:
	// ErrResignNeedsKeyring), and publishes the upstream's signature as
	// provenance (see Config.ResignKey).
	ResignKey *signature.SigningKey
	Workers   int
	// TempDir receives the unpacked bundle while it is checked and
	// published (default os.TempDir()); it needs the bundle's size free.
	TempDir  string
	Retry    client.Retry
	Reporter progress.Reporter
	// CheckLogged, if set, must accept each revision of the bundle once
	// the store has it (published now or before): the store's
	// transparency log proves it holds the bundle's bytes (import
	// --log-key, logcheck).
	CheckLogged func(ctx context.Context, id packageid.ID, sha256 string) error
	// After is the summary of the bundle imported just before this one in
	// the same command: an incremental bundle must follow it, and what it
	// published counts as present even before the store serves it.
	After *Summary
	// ChainWait is how long an incremental bundle's check waits for the
	// store to serve its predecessors' revisions (default
	// DefaultChainWait): a revision just published becomes visible at the
	// store's next index refresh (serve --watch-interval).
	ChainWait time.Duration
	// OCI configures an import from an OCI registry (Bundle is then
	// oci://HOST[:PORT]/REPO:TAG).
	OCI OCISource
}

// ErrNoBundleKeyring refuses an import given the package keyring but not
// the bundle keyring: the manifest's signer is an operator, checked against
// --bundle-keyring, never against the package keys.
var ErrNoBundleKeyring = errors.New("--keyring verifies package signatures only; the bundle manifest is signed by an operator key (mirror --sign-key): pass its public key with --bundle-keyring FILE (the same file as --keyring only if that key really signs both)")

// Import checks a bundle completely (Unpack), or an OCI artifact when
// cfg.Bundle is oci://… (only the revisions the store lacks are
// downloaded, each checked as Unpack checks a bundle's), and an
// incremental bundle's chain (Follows), then publishes what the store
// lacks. A bundle with any problem is refused (*BundleError) before
// anything is published.
func Import(ctx context.Context, cfg ImportConfig) (*Summary, error) {
	start := time.Now()
	if cfg.Retry.Attempts == 0 {
		cfg.Retry = client.DefaultRetry
	}
	if cfg.Workers <= 0 {
		cfg.Workers = max(runtime.GOMAXPROCS(0), 2)
	}
	if cfg.Keyring != nil && cfg.BundleKeyring == nil {
		return nil, ErrNoBundleKeyring
	}
	if cfg.ResignKey != nil && cfg.Keyring == nil {
		return nil, ErrResignNeedsKeyring
	}
	dir, err := os.MkdirTemp(cfg.TempDir, "pkgstore-import-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	r := &run{cfg: Config{To: cfg.To, Retry: cfg.Retry, Workers: cfg.Workers, Reporter: cfg.Reporter, ResignKey: cfg.ResignKey}}
	var (
		m       *Manifest
		raw     []byte
		present map[packageid.ID]bool
	)
	if IsOCI(cfg.Bundle) {
		m, raw, present, err = r.pullOCI(ctx, cfg, dir)
	} else {
		m, raw, err = unpack(ctx, cfg.Bundle, dir, Keys{Bundle: cfg.BundleKeyring, Packages: cfg.Keyring})
		if err == nil {
			err = r.checkChain(ctx, cfg.Bundle, m, cfg.After, cfg.ChainWait)
		}
	}
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(raw)
	sum := &Summary{SearchURL: m.SearchURL, Selected: len(m.Packages), ManifestSHA256: hex.EncodeToString(digest[:]), chain: chainOf(m)}
	defer func() { sum.Elapsed = time.Since(start) }()
	revs := make([]Revision, len(m.Packages))
	for i, e := range m.Packages {
		revs[i] = Revision{Name: e.Name, Version: e.Version}
	}
	byID := map[string]Entry{}
	for _, e := range m.Packages {
		byID[e.ID().String()] = e
	}
	err = r.eachWith(ctx, revs, sum, func(ctx context.Context, rev Revision, _ int) (progress.Result, error) {
		e := byID[rev.ID().String()]
		res := progress.Result{Dir: rev.ID().String(), ID: rev.ID()}
		if present[rev.ID()] {
			// Found in the store before its blobs were fetched.
			res.Outcome = Present
			return res, nil
		}
		ok, err := r.present(ctx, rev)
		if err != nil {
			res.Outcome, res.Reasons = Failed, []string{"already-published check: " + err.Error()}
			if client.Unreachable(err) {
				return res, fmt.Errorf("%w: target store unreachable: %w", ErrFatal, err)
			}
			return res, nil
		}
		if ok {
			res.Outcome = Present
			return checkLogged(ctx, cfg.CheckLogged, e, res)
		}
		sig, err := os.ReadFile(filepath.Join(dir, e.Signature))
		if err != nil {
			return res, err
		}
		f, err := os.Open(filepath.Join(dir, e.Zip))
		if err != nil {
			return res, err
		}
		defer f.Close()
		res.Bytes, res.ZipSize = e.Size, e.Size
		res, err = r.publish(ctx, rev.ID(), f, &Fetched{Size: e.Size, SHA256: e.SHA256, Signature: sig, Signer: e.Signer}, res)
		if err != nil || res.Outcome == Failed {
			return res, err
		}
		return checkLogged(ctx, cfg.CheckLogged, e, res)
	})
	return sum, err
}

// checkLogged fails res when check (if set) does not find e's bytes in the
// store's transparency log.
func checkLogged(ctx context.Context, check func(context.Context, packageid.ID, string) error, e Entry, res progress.Result) (progress.Result, error) {
	if check == nil {
		return res, nil
	}
	if err := check(ctx, e.ID(), e.SHA256); err != nil {
		res.Outcome, res.Reasons = Failed, []string{"transparency log: " + err.Error()}
	}
	return res, nil
}

// eachWith runs do for every revision with the workers, feeding the
// reporter and the summary; a fatal error stops the rest.
func (r *run) eachWith(ctx context.Context, revs []Revision, sum *Summary, do func(ctx context.Context, rev Revision, worker int) (progress.Result, error)) error {
	cfg := r.cfg
	if cfg.Reporter != nil {
		cfg.Reporter.Start(len(revs))
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	type res struct {
		progress.Result
		cancelled bool
	}
	jobs := make(chan int)
	results := make(chan res)
	var wg sync.WaitGroup
	for w := range min(cfg.Workers, max(len(revs), 1)) {
		wg.Go(func() {
			for i := range jobs {
				start := time.Now()
				out, fatal := do(ctx, revs[i], w)
				out.Elapsed = time.Since(start)
				if fatal != nil {
					cancel(fatal)
				}
				results <- res{Result: out, cancelled: fatal == nil && out.Outcome == Failed && ctx.Err() != nil}
			}
		})
	}
	wg.Go(func() {
		defer close(jobs)
		for i := range revs {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	})
	go func() { wg.Wait(); close(results) }()
	handled := 0
	for x := range results {
		if x.cancelled {
			continue
		}
		handled++
		switch x.Outcome {
		case Transferred, Downloaded:
			sum.Transferred++
			sum.Bytes += x.ZipSize
		case Present:
			sum.Present++
		default:
			sum.Failed = append(sum.Failed, x.Result)
		}
		if cfg.Reporter != nil {
			cfg.Reporter.Done(x.Result)
		}
	}
	sum.NotDone = len(revs) - handled
	if cfg.Reporter != nil {
		cfg.Reporter.Finish()
	}
	return context.Cause(ctx)
}
