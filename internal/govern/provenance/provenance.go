// Package provenance keeps the provenance record of each published
// revision (api.Revision: the bytes and the key it was published with, and
// who published it) in the internal bucket under
// pkgstore/revisions/NAME-VERSION.json. The publishing job writes it
// before the zip; the governance API, the web catalog and
// `pkgstore verify --registry` read it.
package provenance

import (
	"context"
	"encoding/json"
	"fmt"

	"pkgstore/internal/api"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/storage"
)

var jsonObject = storage.WriterOptions{ContentType: "application/json"}

// Read returns the provenance record of id; storage.IsNotFound tells a
// revision published without one (copied in by other means).
func Read(ctx context.Context, b *storage.Bucket, id packageid.ID) (*api.Revision, error) {
	data, err := b.ReadAll(ctx, storage.RevisionKey(id))
	if err != nil {
		return nil, err
	}
	var r api.Revision
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("parse %s: %w", storage.RevisionKey(id), err)
	}
	return &r, nil
}

// Write writes (or rewrites) the provenance record of rev's revision.
func Write(ctx context.Context, b *storage.Bucket, rev api.Revision) error {
	data, err := json.MarshalIndent(rev, "", "  ")
	if err != nil {
		return err
	}
	id := packageid.ID{Name: rev.Name, Version: rev.Version}
	if err := b.WriteAll(ctx, storage.RevisionKey(id), data, &jsonObject); err != nil {
		return fmt.Errorf("write revision record: %w", err)
	}
	return nil
}

// Delete removes the provenance record of id, if submission wrote it (a
// publication whose zip never made it).
func Delete(ctx context.Context, b *storage.Bucket, id packageid.ID, submission string) {
	if rev, err := Read(ctx, b, id); err == nil && rev.Submission == submission {
		_ = b.Delete(ctx, storage.RevisionKey(id))
	}
}
