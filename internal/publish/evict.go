package publish

import (
	"context"
	"fmt"

	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/storage"
)

// Evict withdraws a published revision so that it is no longer published
// and can be published again: the zip first (its absence means "not
// published", so the store is consistent at every step and the next index
// pass drops the revision), then its signature, static files, package
// document and provenance record. Claims stay: their generations only
// grow, and the next publication takes over the last one (its submission
// is final). The audit log keeps the publication.
//
// Only the pull-through cache calls it, for revisions it published itself
// from its upstream; write-once holds for every other revision.
func (p *Publisher) Evict(ctx context.Context, id packageid.ID) error {
	if err := id.Validate(); err != nil {
		return err
	}
	if err := p.b.Public.Delete(ctx, storage.ZipKey(id)); err != nil && !storage.IsNotFound(err) {
		return fmt.Errorf("evict %s: delete zip: %w", id, err)
	}
	var errs []error
	if err := p.b.Public.Delete(ctx, storage.SignatureKey(id)); err != nil && !storage.IsNotFound(err) {
		errs = append(errs, err)
	}
	if err := p.b.Public.DeletePrefix(ctx, storage.StaticPrefix+id.String()+"/"); err != nil && !storage.IsNotFound(err) {
		errs = append(errs, err)
	}
	if err := p.b.Internal.Delete(ctx, storage.DocumentKey(id)); err != nil && !storage.IsNotFound(err) {
		errs = append(errs, err)
	}
	if err := p.b.Internal.Delete(ctx, storage.RevisionKey(id)); err != nil && !storage.IsNotFound(err) {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		// The zip is gone: the revision is not published; what is left
		// is overwritten by its next publication.
		return fmt.Errorf("evict %s: zip deleted, but: %v", id, errs)
	}
	return nil
}

// Footprint is the bytes a published revision takes in the public bucket:
// zip, signature and static files.
func (p *Publisher) Footprint(ctx context.Context, id packageid.ID) (int64, error) {
	var n int64
	for _, key := range []string{storage.ZipKey(id), storage.SignatureKey(id)} {
		a, err := p.b.Public.Attributes(ctx, key)
		if err != nil {
			return 0, fmt.Errorf("size of %s: %w", key, err)
		}
		n += a.Size
	}
	objs, err := p.b.Public.ListAll(ctx, &storage.ListOptions{Prefix: storage.StaticPrefix + id.String() + "/"})
	if err != nil {
		return 0, fmt.Errorf("size of %s's static files: %w", id, err)
	}
	for _, o := range objs {
		n += o.Size
	}
	return n, nil
}
