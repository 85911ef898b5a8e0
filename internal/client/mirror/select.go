// Package mirror copies revisions from an EPR-compatible registry (Elastic's,
// another pkgstore, an EPR in proxy mode) into a store, through its
// publishing API, or into a signed offline bundle, and imports bundles into
// stores. Every signature is checked against a trusted keyring before
// anything is written anywhere.
package mirror

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	"pkgstore/internal/client"
	"pkgstore/internal/pkg/packageid"
)

// Filters select revisions as Fleet does: they are sent to the upstream's
// own /search, so the upstream's rules decide (what "compatible with Kibana
// 8.15" means is never re-implemented here).
type Filters struct {
	KibanaVersion string   `json:"kibana.version,omitempty"`
	AgentVersion  string   `json:"agent.version,omitempty"`
	SpecMin       string   `json:"spec.min,omitempty"`
	SpecMax       string   `json:"spec.max,omitempty"`
	Capabilities  []string `json:"capabilities,omitempty"`
	Prerelease    bool     `json:"prerelease,omitempty"`
	Category      string   `json:"category,omitempty"`
	Type          string   `json:"type,omitempty"`
	// Packages are names or path.Match globs; empty means every package.
	Packages []string `json:"packages,omitempty"`
	// Latest is how many of the newest selected versions of each package
	// are kept (default 1); AllVersions keeps them all.
	Latest      int  `json:"latest,omitempty"`
	AllVersions bool `json:"all_versions,omitempty"`
}

// Check reports flag mistakes.
func (f Filters) Check() error {
	if f.Latest < 0 {
		return fmt.Errorf("--latest must be at least 1")
	}
	if f.AllVersions && f.Latest > 1 {
		return fmt.Errorf("--latest and --all-versions exclude each other")
	}
	for _, p := range f.Packages {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("--package %q: %w", p, err)
		}
	}
	return nil
}

func (f Filters) latest() int {
	if f.Latest <= 0 {
		return 1
	}
	return f.Latest
}

// Query is the /search query the upstream is asked.
func (f Filters) Query() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("kibana.version", f.KibanaVersion)
	set("agent.version", f.AgentVersion)
	set("spec.min", f.SpecMin)
	set("spec.max", f.SpecMax)
	set("capabilities", strings.Join(f.Capabilities, ","))
	set("category", f.Category)
	set("type", f.Type)
	if f.Prerelease {
		q.Set("prerelease", "true")
	}
	if f.AllVersions || f.latest() > 1 {
		q.Set("all", "true")
	}
	// One plain name is asked for directly; globs and lists are matched
	// here against the whole answer.
	if len(f.Packages) == 1 && !strings.ContainsAny(f.Packages[0], `*?[\`) {
		q.Set("package", f.Packages[0])
	}
	return q
}

func (f Filters) matchName(name string) bool {
	if len(f.Packages) == 0 {
		return true
	}
	for _, p := range f.Packages {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// Revision is one selected revision of the upstream: the /search item's
// fields the mirror needs.
type Revision struct {
	Name          string `json:"name"`
	Version       string `json:"version"`
	Download      string `json:"download"`
	SignaturePath string `json:"signature_path,omitempty"`
	// Size of the zip from a HEAD request (dry runs), -1 when unknown.
	Size int64 `json:"-"`
}

// ID of the revision.
func (r Revision) ID() packageid.ID { return packageid.ID{Name: r.Name, Version: r.Version} }

// MaxSearchSize bounds what is read of an upstream's /search or
// /categories answer, which is held in memory whole: all of Elastic's
// versions of everything is about 60 MB, so twice that leaves room to
// grow while a hostile upstream cannot make a mirror or a proxy hold more.
const MaxSearchSize = 128 << 20

// ErrAnswerTooLarge is returned when an upstream's JSON answer passes
// MaxSearchSize: it is refused, never retried.
var ErrAnswerTooLarge = fmt.Errorf("upstream answer larger than %d MiB", MaxSearchSize>>20)

// DecodeBounded decodes one JSON value of at most MaxSearchSize bytes
// from r into v; a longer value fails with ErrAnswerTooLarge.
func DecodeBounded(r io.Reader, v any) error {
	return json.NewDecoder(&boundedReader{r: r, left: MaxSearchSize}).Decode(v)
}

type boundedReader struct {
	r    io.Reader
	left int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, ErrAnswerTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// Select asks upstream's /search and returns the selected revisions sorted
// by name, then version.
func Select(ctx context.Context, hc *http.Client, upstream string, f Filters) ([]Revision, string, error) {
	searchURL := strings.TrimRight(upstream, "/") + "/search"
	if q := f.Query().Encode(); q != "" {
		searchURL += "?" + q
	}
	var items []Revision
	err := client.DefaultRetry.Do(ctx, func() error {
		items = nil
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, searchURL, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return &client.StatusError{URL: searchURL, StatusCode: resp.StatusCode, Status: resp.Status}
		}
		if err := DecodeBounded(resp.Body, &items); err != nil {
			return fmt.Errorf("decode %s: %w", searchURL, err)
		}
		return nil
	})
	if err != nil {
		return nil, searchURL, fmt.Errorf("search the upstream: %w", err)
	}
	byName := map[string][]Revision{}
	for _, it := range items {
		if err := it.ID().Validate(); err != nil {
			return nil, searchURL, fmt.Errorf("upstream /search lists %q %q: %w", it.Name, it.Version, err)
		}
		if f.matchName(it.Name) {
			it.Size = -1
			byName[it.Name] = append(byName[it.Name], it)
		}
	}
	var out []Revision
	for _, revs := range byName {
		slices.SortFunc(revs, func(a, b Revision) int { return packageid.Compare(b.Version, a.Version) })
		if !f.AllVersions {
			revs = revs[:min(len(revs), f.latest())]
		}
		out = append(out, revs...)
	}
	slices.SortFunc(out, func(a, b Revision) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return packageid.Compare(a.Version, b.Version)
	})
	// The same revision twice (a broken upstream) would be fetched twice.
	out = slices.CompactFunc(out, func(a, b Revision) bool { return a.Name == b.Name && a.Version == b.Version })
	return out, searchURL, nil
}
