package markdown

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"go.yaml.in/yaml/v3"

	"pkgstore/internal/pkg/packageid"
)

// RecordFormat is the format of Record written by this version. A record
// of another format (an older renderer, another sanitiser policy) is not
// served: the revision is rendered again, once, at its next page view.
const RecordFormat = 1

// Record is the package text of one revision, rendered once (by the
// publishing job, or by the catalog for revisions published before) and
// stored in the internal bucket beside the package document
// (storage.RenderedKey): a page view reads it and never runs the Markdown
// parser.
type Record struct {
	Format     int     `json:"format"`
	ReadmePath string  `json:"readme_path,omitempty"` // the README's path in the package; "": none
	Readme     *Result `json:"readme,omitempty"`
	// Changelog is changelog.yml's entries, in file order; ChangelogOK
	// is false when the package has none or it does not read as one.
	Changelog   []Release `json:"changelog,omitempty"`
	ChangelogOK bool      `json:"changelog_ok,omitempty"`
}

// Release is one version of the changelog.
type Release struct {
	Version string   `json:"version"`
	Changes []Change `json:"changes,omitempty"`
}

// Change is one changelog entry; Link is kept only when it is an http(s)
// URL.
type Change struct {
	Description string `json:"description,omitempty"`
	Type        string `json:"type,omitempty"`
	Link        string `json:"link,omitempty"`
}

// Starved reports whether the README's render was cut by a busy machine
// rather than by its own cost: such a record is shown but not stored.
func (r *Record) Starved() bool { return r.Readme != nil && r.Readme.Starved }

// Limits of the changelog.
const (
	MaxChangelogBytes   = 1 << 20
	MaxChangelogEntries = 2000
)

// ErrTooLarge is what a ReadFunc returns for a file over its limit.
var ErrTooLarge = errors.New("file too large")

// ReadFunc reads the package file rel (a path from the package root) of at
// most limit bytes. A file that does not exist is an error matching
// fs.ErrNotExist; one over limit, ErrTooLarge.
type ReadFunc func(ctx context.Context, rel string, limit int64) ([]byte, error)

// Build renders the README (readme: the package document's readme field)
// and reads the changelog of revision id, whose static files are assets
// (the package document's). The error is set when a file could not be
// read (other than not existing) or ctx is done: nothing is to be stored.
func Build(ctx context.Context, id packageid.ID, readme string, assets []string, read ReadFunc, b Budget) (*Record, error) {
	base := StaticBase(id)
	own := NewFiles(base, assets)
	rec := &Record{Format: RecordFormat}
	if rel, ok := PackagePath(readme, "", base); ok {
		rec.ReadmePath = rel
		src, err := read(ctx, rel, MaxSourceBytes)
		switch {
		case errors.Is(err, ErrTooLarge):
			rec.Readme = &Result{Problem: ProblemTooLarge}
		case errors.Is(err, fs.ErrNotExist):
			rec.Readme = &Result{Problem: "could not be read"}
		case err != nil:
			return nil, fmt.Errorf("read %s: %w", rel, err)
		default:
			res, err := Render(ctx, src, rel, own, b)
			if err != nil {
				return nil, err
			}
			rec.Readme = &res
		}
	}
	data, err := read(ctx, "changelog.yml", MaxChangelogBytes)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, ErrTooLarge):
	case err != nil:
		return nil, fmt.Errorf("read changelog.yml: %w", err)
	default:
		rec.Changelog, rec.ChangelogOK = ParseChangelog(data)
	}
	return rec, nil
}

// ParseChangelog reads changelog.yml; ok is false when it does not read as
// one. At most MaxChangelogEntries changes are kept.
func ParseChangelog(data []byte) (_ []Release, ok bool) {
	var raw []struct {
		Version string `yaml:"version"`
		Changes []struct {
			Description string `yaml:"description"`
			Type        string `yaml:"type"`
			Link        string `yaml:"link"`
		} `yaml:"changes"`
	}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, false
	}
	var out []Release
	n := 0
	for _, r := range raw {
		rel := Release{Version: r.Version}
		for _, c := range r.Changes {
			if n++; n > MaxChangelogEntries {
				return append(out, rel), true
			}
			link := ""
			if l := strings.TrimSpace(c.Link); strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "http://") {
				link = l
			}
			rel.Changes = append(rel.Changes, Change{Description: c.Description, Type: c.Type, Link: link})
		}
		out = append(out, rel)
	}
	return out, true
}

// Marshal encodes the record as stored. HTML is not escaped for JSON's
// sake: the record is read by this package only, and stays about the
// size of the HTML.
func (r *Record) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("encode rendered record: %w", err)
	}
	return buf.Bytes(), nil
}

// MaxRecordBytes bounds a stored record read back: the HTML and plain
// text limits, the changelog, and JSON's escaping.
const MaxRecordBytes = 16 << 20

// ErrFormat marks a stored record of another format or that does not
// decode: it is rendered again.
var ErrFormat = errors.New("rendered record of another format")

// UnmarshalRecord decodes a stored record.
func UnmarshalRecord(data []byte) (*Record, error) {
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if r.Format != RecordFormat {
		return nil, fmt.Errorf("%w: format %d, want %d", ErrFormat, r.Format, RecordFormat)
	}
	return &r, nil
}
