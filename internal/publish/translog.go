package publish

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"pkgstore/internal/api"
	"pkgstore/internal/govern/translog"
	"pkgstore/internal/pkg/packageid"
)

// logEntry is the transparency log record of s's publication of id.
func logEntry(s *api.Submission, id packageid.ID, size int64) translog.Entry {
	e := translog.Entry{Event: translog.EventPublish, Name: id.Name, Version: id.Version, SHA256: s.SHA256, Size: size, Time: time.Now().UTC()}
	if s.Signer != nil {
		e.Signer = strings.ToLower(s.Signer.Fingerprint)
	}
	return e
}

// loggedOther refuses a candidate whose NAME-VERSION the transparency log
// already records with other bytes: the log promised that revision to
// everyone, and a revision is published once (the record of an attempt
// whose zip never made it still binds the name).
func (p *Publisher) loggedOther(ctx context.Context, id packageid.ID, sum string) (*api.Reason, error) {
	if p.cfg.Log == nil {
		return nil, nil
	}
	e, err := p.cfg.Log.Event(ctx, translog.Entry{Event: translog.EventPublish, Name: id.Name, Version: id.Version}.Key())
	if errors.Is(err, translog.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if e.SHA256 == sum {
		return nil, nil
	}
	return &api.Reason{Check: api.CheckDuplicate, File: id.ZipName(), Message: fmt.Sprintf("the transparency log already records %s with sha256 %s; published packages never change, publish a new version instead", id, e.SHA256)}, nil
}

// logPublication appends the publication's record to the transparency
// log before its zip is committed: a visible zip is always in the log (a
// crash between the two leaves a record whose zip the retry commits).
func (p *Publisher) logPublication(ctx context.Context, s *api.Submission, id packageid.ID, size int64) error {
	if p.cfg.Log == nil {
		return nil
	}
	_, stored, err := p.cfg.Log.Append(ctx, logEntry(s, id, size))
	if err != nil {
		return fmt.Errorf("transparency log: %w", err)
	}
	if stored.SHA256 != s.SHA256 || stored.Size != size {
		return fmt.Errorf("transparency log records %s with sha256 %s, not %s", id, stored.SHA256, s.SHA256)
	}
	return nil
}
