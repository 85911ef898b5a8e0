// Package index reads and writes the search index of the internal bucket
// (architecture.md §3, §5): v2/metadata/cursor.json pointing at
// v2/metadata/<cursor>/search-index-all.json and search-index-delta.json,
// in the exact format EPR's storage indexer reads.
package index

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/storage"
)

// ErrNoCursor means the bucket has no index yet.
var ErrNoCursor = errors.New("no index yet: v2/metadata/cursor.json does not exist")

// ErrNoDelta means a cursor has no delta file.
var ErrNoDelta = errors.New("cursor has no delta file")

// Entry is one package of an index: its identity and the package document
// exactly as stored (EPR's /package/N/V/ JSON).
type Entry struct {
	ID       packageid.ID
	Manifest json.RawMessage
}

// entryJSON is the on-disk wrapper of one index entry.
type entryJSON struct {
	PackageManifest json.RawMessage `json:"package_manifest"`
}

type cursorJSON struct {
	Current string `json:"current"`
}

// Delta is the change of one cursor against the one before it.
type Delta struct {
	Added   []Entry
	Updated []Entry
	Removed []packageid.ID
}

type removedJSON struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// ReadCursor returns the current cursor.
func ReadCursor(ctx context.Context, b *storage.Bucket) (string, error) {
	data, err := b.ReadAll(ctx, storage.CursorKey)
	if err != nil {
		if storage.IsNotFound(err) {
			return "", ErrNoCursor
		}
		return "", fmt.Errorf("read %s: %w", storage.CursorKey, err)
	}
	var c cursorJSON
	if err := json.Unmarshal(data, &c); err != nil {
		return "", fmt.Errorf("parse %s: %w", storage.CursorKey, err)
	}
	if c.Current == "" {
		return "", fmt.Errorf("parse %s: empty \"current\"", storage.CursorKey)
	}
	return c.Current, nil
}

// entryFromManifest reads the identity of a package document.
func entryFromManifest(raw json.RawMessage) (Entry, error) {
	var id struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal(raw, &id); err != nil {
		return Entry{}, fmt.Errorf("package_manifest: %w", err)
	}
	e := Entry{ID: packageid.ID{Name: id.Name, Version: id.Version}, Manifest: raw}
	if e.ID.Name == "" || e.ID.Version == "" {
		return Entry{}, errors.New("package_manifest without name or version")
	}
	return e, nil
}

// ReadAll streams the entries of a cursor's search-index-all.json to fn, one
// at a time, so the whole index is never held as one document. The file is
// cut by ScanAll, the reader the registry's catalog loads with; each
// document is then decoded here.
func ReadAll(ctx context.Context, b *storage.Bucket, cursor string, fn func(Entry) error) error {
	key := storage.IndexAllKey(cursor)
	r, err := b.NewReader(ctx, key)
	if err != nil {
		return fmt.Errorf("open %s: %w", key, err)
	}
	defer r.Close()
	if err := ScanAll(r, func(raw []byte) error {
		// raw aliases the scanner's buffer; the entry outlives the call.
		e, err := entryFromManifest(bytes.Clone(raw))
		if err != nil {
			return err
		}
		return fn(e)
	}); err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	return nil
}

// ReadDelta reads a cursor's search-index-delta.json.
func ReadDelta(ctx context.Context, b *storage.Bucket, cursor string) (*Delta, error) {
	key := storage.IndexDeltaKey(cursor)
	data, err := b.ReadAll(ctx, key)
	if err != nil {
		if storage.IsNotFound(err) {
			return nil, ErrNoDelta
		}
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	var raw struct {
		Added   []entryJSON   `json:"added"`
		Updated []entryJSON   `json:"updated"`
		Removed []removedJSON `json:"removed"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parse %s: %w", key, err)
	}
	d := &Delta{}
	for _, list := range []struct {
		in  []entryJSON
		out *[]Entry
	}{{raw.Added, &d.Added}, {raw.Updated, &d.Updated}} {
		for _, ej := range list.in {
			e, err := entryFromManifest(ej.PackageManifest)
			if err != nil {
				return nil, fmt.Errorf("parse %s: %w", key, err)
			}
			*list.out = append(*list.out, e)
		}
	}
	for _, r := range raw.Removed {
		d.Removed = append(d.Removed, packageid.ID{Name: r.Name, Version: r.Version})
	}
	return d, nil
}

// ListCursors returns the cursor folders under v2/metadata/ that sort after
// `after` and not after `upTo`, ascending (EPR's incremental-update rule).
func ListCursors(ctx context.Context, b *storage.Bucket, after, upTo string) ([]string, error) {
	_, dirs, err := b.ListLevel(ctx, storage.MetadataPrefix)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, dir := range dirs {
		c := strings.TrimSuffix(strings.TrimPrefix(dir, storage.MetadataPrefix), "/")
		if c > after && c <= upTo {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out, nil
}
