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

// checkChain refuses an incremental bundle whose predecessors the store
// lacks (see Follows), or that does not follow previous (the sha256 of the
// manifest imported just before it, when several are imported at once).
func (r *run) checkChain(ctx context.Context, bundle string, m *Manifest, previous string) error {
	if m.Follows == nil {
		return nil
	}
	if previous != "" && previous != m.Follows.ManifestSHA256 {
		return &BundleError{Bundle: bundle, Problems: []string{fmt.Sprintf("%v: it follows the bundle whose manifest has sha256 %s, but the bundle imported before it has %s: give the bundles of a chain in the order they were made", ErrChain, m.Follows.ManifestSHA256, previous)}}
	}
	var (
		mu       sync.Mutex
		missing  []string
		firstErr error
	)
	sem := make(chan struct{}, r.cfg.Workers)
	var wg sync.WaitGroup
	for _, req := range m.Follows.Requires {
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
				missing = append(missing, req.ID().String())
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	shown := missing[:min(len(missing), 10)]
	more := ""
	if len(missing) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(missing)-len(shown))
	}
	return &BundleError{Bundle: bundle, Problems: []string{fmt.Sprintf("%v: it was made with mirror --since and follows the bundle whose manifest has sha256 %s, but the store lacks %d revision(s) of the bundles before it (%s%s): import the earlier bundles of the chain first, in the order they were made", ErrChain, m.Follows.ManifestSHA256, len(missing), strings.Join(shown, ", "), more)}}
}
