package publish

import (
	"context"
	"fmt"
	"path"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/govern/audit"
	"pkgstore/internal/govern/provenance"
	"pkgstore/internal/pkg/packageid"
	"pkgstore/internal/storage"
)

// writeProvenance writes the revision record and the "published" audit
// record of submission s, both before its zip; a retry rewrites the first
// and finds the second already there.
// When the store signs with its own key, the record also keeps the
// owner's signature (the store's is the one served).
// A re-signed mirror's upstream signature (up) is kept the same way.
func (p *Publisher) writeProvenance(ctx context.Context, s *api.Submission, id packageid.ID, size int64, st *storeSigned, up *upstreamSig) error {
	rev := api.Revision{Name: id.Name, Version: id.Version, Size: size, SHA256: s.SHA256, Signer: s.Signer, Submission: s.ID, Token: s.Token, Client: s.Client, Legacy: s.Legacy, Published: time.Now().UTC()}
	if st != nil {
		rev.StoreSigner, rev.OwnerSignature = st.signer, string(st.owner)
	}
	if up != nil {
		rev.UpstreamSignature, rev.UpstreamSigner = string(up.armored), up.signer
	}
	if err := provenance.Write(ctx, p.b.Internal, rev); err != nil {
		return err
	}
	return p.recordEventNoSync(ctx, s, audit.Published)
}

// dropProvenance removes the records of a publication whose zip never made
// it (cleanup).
func (p *Publisher) dropProvenance(ctx context.Context, id packageid.ID, s *api.Submission) {
	provenance.Delete(ctx, p.b.Internal, id, s.ID)
	if p.cfg.Audit != nil {
		_ = p.cfg.Audit.Delete(ctx, s.ID, audit.Published, s.Name, s.Version, s.Token)
	}
}

// outcomeEvent is the audit event of a final status recorded by the job
// (a publication's record is written before its zip instead).
func outcomeEvent(st api.Status) audit.Event {
	switch st {
	case api.StatusRejected:
		return audit.Refused
	case api.StatusPassed:
		return audit.Passed
	}
	return ""
}

// recordEvent writes the audit record of event ev of submission s, once.
func (p *Publisher) recordEvent(ctx context.Context, s *api.Submission, ev audit.Event) error {
	return p.putEvent(ctx, s, ev, true)
}

// recordEventNoSync is recordEvent for records made durable by a later
// Sync of the buckets (see storage.Bucket.Sync).
func (p *Publisher) recordEventNoSync(ctx context.Context, s *api.Submission, ev audit.Event) error {
	return p.putEvent(ctx, s, ev, false)
}

func (p *Publisher) putEvent(ctx context.Context, s *api.Submission, ev audit.Event, durable bool) error {
	if p.cfg.Audit == nil {
		return nil
	}
	rec := audit.Record{ID: s.ID, Event: ev, Token: s.Token, Client: s.Client, Package: s.Name, Version: s.Version, Size: s.Size, SHA256: s.SHA256, Submission: s.ID}
	if s.Signer != nil {
		rec.KeyID, rec.Fingerprint = s.Signer.KeyID, s.Signer.Fingerprint
	}
	if ev == audit.Received {
		rec.Size, rec.SHA256 = 0, "" // not known before the worker reads it
	}
	for _, r := range s.Reasons {
		rec.Reasons = append(rec.Reasons, r.String())
	}
	if s.Name == "" {
		// A file name that does not parse: the reasons quote it.
		rec.Package, rec.Version = "", ""
	}
	put := p.cfg.Audit.Put
	if !durable {
		put = p.cfg.Audit.PutNoSync
	}
	if err := put(ctx, rec); err != nil {
		return fmt.Errorf("audit %s of submission %s: %w", ev, s.ID, err)
	}
	return nil
}

// recordAbandoned closes the audit history of an upload that never became
// a submission (the process died between its "received" record and its
// submission record, or during the upload): a "refused" record says so.
func (p *Publisher) recordAbandoned(ctx context.Context, id string) {
	if p.cfg.Audit == nil {
		return
	}
	objs, err := p.b.Internal.ListAll(ctx, &storage.ListOptions{Prefix: storage.QueueDir(id)})
	if err != nil {
		return
	}
	s := &api.Submission{ID: id, Reasons: []api.Reason{{Check: api.CheckUpload, Message: "the upload never completed; nothing was published"}}}
	for _, o := range objs {
		if pid, err := packageid.ParseZipName(path.Base(o.Key)); err == nil {
			s.Package, s.Name, s.Version = pid.ZipName(), pid.Name, pid.Version
		}
	}
	if err := p.recordEvent(ctx, s, audit.Refused); err != nil {
		p.log.Error("record abandoned upload", "submission", id, "err", err)
	}
}
