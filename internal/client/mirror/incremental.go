package mirror

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"pkgstore/internal/pkg/packageid"
)

// Follows links an incremental bundle (mirror --since) to the bundle
// before it. An incremental bundle holds only the revisions its
// predecessors lack, so importing it alone would leave the store without
// them: Requires names every revision of the chain before it (the
// predecessor's own revisions and what the predecessor required), and
// import refuses the bundle unless the store already holds each of them.
// That check is stateless and exact: a chain imported in order passes it,
// a bundle imported before its predecessor (out of order, or with a
// bundle of the chain skipped) is refused naming what is missing, and
// importing an older bundle again after a newer one publishes nothing.
type Follows struct {
	// ManifestSHA256 is the sha256 of the predecessor's manifest.json
	// bytes; import of several bundles at once checks each against the
	// one before it.
	ManifestSHA256 string `json:"manifest_sha256"`
	// Requires is every revision of the chain before this bundle, sorted.
	Requires []RevisionRef `json:"requires"`
}

// RevisionRef names one revision.
type RevisionRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// ID of the revision.
func (r RevisionRef) ID() packageid.ID { return packageid.ID{Name: r.Name, Version: r.Version} }

// maxRequires bounds the revisions a chain may require (a manifest is
// already bounded by maxManifestSize; this bounds the HEAD requests).
const maxRequires = 1 << 20

func (f *Follows) check() error {
	if f == nil {
		return nil
	}
	if !sha256Re.MatchString(f.ManifestSHA256) {
		return errors.New("follows.manifest_sha256 is not 64 lower-case hex digits")
	}
	if len(f.Requires) > maxRequires {
		return fmt.Errorf("follows.requires lists %d revisions, at most %d", len(f.Requires), maxRequires)
	}
	for _, r := range f.Requires {
		if err := r.ID().Validate(); err != nil {
			return fmt.Errorf("follows.requires %q %q: %w", r.Name, r.Version, err)
		}
	}
	return nil
}

// ErrChain is matched by the refusal of an incremental bundle whose
// predecessors are not in the store, or that does not follow the bundle
// imported just before it.
var ErrChain = errors.New("incremental bundle out of order")

// loadSince reads the manifest of the bundle an incremental bundle
// follows: a bundle file (tar) or an extracted manifest.json. It returns
// the Follows to record and the revisions to leave out.
func loadSince(path string) (*Follows, map[packageid.ID]bool, error) {
	m, raw, _, err := ReadManifest(path)
	if err != nil {
		// Not a tar: maybe the manifest itself.
		f, oerr := os.Open(path)
		if oerr != nil {
			return nil, nil, oerr
		}
		defer f.Close()
		b, rerr := io.ReadAll(io.LimitReader(f, maxManifestSize+1))
		if rerr != nil || len(b) > maxManifestSize {
			return nil, nil, fmt.Errorf("--since %s: unreadable or larger than %d bytes (%v)", path, maxManifestSize, rerr)
		}
		var perr error
		if m, perr = parseManifest(b); perr != nil {
			return nil, nil, fmt.Errorf("--since %s: neither a bundle (%v) nor a bundle's %s (%v)", path, err, ManifestName, perr)
		}
		raw = b
	}
	sum := sha256.Sum256(raw)
	fl := &Follows{ManifestSHA256: hex.EncodeToString(sum[:])}
	have := map[packageid.ID]bool{}
	add := func(id packageid.ID) {
		if !have[id] {
			have[id] = true
			fl.Requires = append(fl.Requires, RevisionRef{Name: id.Name, Version: id.Version})
		}
	}
	for _, e := range m.Packages {
		if err := e.check(); err != nil {
			return nil, nil, fmt.Errorf("--since %s: %w", path, err)
		}
		add(e.ID())
	}
	if m.Follows != nil {
		for _, r := range m.Follows.Requires {
			add(r.ID())
		}
	}
	slices.SortFunc(fl.Requires, func(a, b RevisionRef) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return packageid.Compare(a.Version, b.Version)
	})
	return fl, have, nil
}

// sameFollows reports whether two manifests follow the same bundle.
func sameFollows(a, b *Follows) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.ManifestSHA256 == b.ManifestSHA256 && slices.Equal(a.Requires, b.Requires)
}

// DefaultChainWait is ImportConfig.ChainWait's default: three times
// serve's default --watch-interval.
const DefaultChainWait = 15 * time.Second

// chainOf is what a store holds once m is imported.
func chainOf(m *Manifest) map[packageid.ID]bool {
	c := map[packageid.ID]bool{}
	for _, e := range m.Packages {
		c[e.ID()] = true
	}
	if m.Follows != nil {
		for _, r := range m.Follows.Requires {
			c[r.ID()] = true
		}
	}
	return c
}

// checkChain refuses an incremental bundle whose predecessors the store
// lacks (see Follows), or that does not follow after (the bundle imported
// just before it in the same command). A revision missing is asked again
// for up to wait: the store serves what was just published at its next
// index refresh.
func (r *run) checkChain(ctx context.Context, bundle string, m *Manifest, after *Summary, wait time.Duration) error {
	if m.Follows == nil {
		return nil
	}
	if after != nil && after.ManifestSHA256 != m.Follows.ManifestSHA256 {
		return &BundleError{Bundle: bundle, Cause: ErrChain, Problems: []string{fmt.Sprintf("%v: it follows the bundle whose manifest has sha256 %s, but the bundle imported before it has %s: give the bundles of a chain in the order they were made", ErrChain, m.Follows.ManifestSHA256, after.ManifestSHA256)}}
	}
	if wait <= 0 {
		wait = DefaultChainWait
	}
	var todo []RevisionRef
	for _, req := range m.Follows.Requires {
		if after == nil || !after.OK() || !after.chain[req.ID()] {
			todo = append(todo, req)
		}
	}
	deadline := time.Now().Add(wait)
	for {
		missing, err := r.missing(ctx, todo)
		if err != nil {
			return err
		}
		if len(missing) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return chainError(bundle, m, missing)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		todo = missing
	}
}

// missing returns the revisions of refs the store does not serve.
func (r *run) missing(ctx context.Context, refs []RevisionRef) ([]RevisionRef, error) {
	var (
		mu       sync.Mutex
		missing  []RevisionRef
		firstErr error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, r.cfg.Workers)
	for _, req := range refs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ok, err := r.present(ctx, Revision{Name: req.Name, Version: req.Version})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil && firstErr == nil:
				firstErr = fmt.Errorf("chain check %s: %w", req.ID(), err)
			case err == nil && !ok:
				missing = append(missing, req)
			}
		})
	}
	wg.Wait()
	return missing, firstErr
}

func chainError(bundle string, m *Manifest, missing []RevisionRef) error {
	ids := make([]string, len(missing))
	for i, r := range missing {
		ids[i] = r.ID().String()
	}
	slices.Sort(ids)
	shown := ids[:min(len(ids), 10)]
	more := ""
	if len(ids) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(ids)-len(shown))
	}
	return &BundleError{Bundle: bundle, Cause: ErrChain, Problems: []string{fmt.Sprintf("%v: it was made with mirror --since and follows the bundle whose manifest has sha256 %s, but the store lacks %d revision(s) of the bundles before it (%s%s): import the earlier bundles of the chain first, in the order they were made", ErrChain, m.Follows.ManifestSHA256, len(ids), strings.Join(shown, ", "), more)}}
}
